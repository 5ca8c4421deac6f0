FROM python:3.12-slim-bookworm
ENV PYTHONUNBUFFERED=1 HAYSTACK_TELEMETRY_ENABLED=False OMP_THREAD_LIMIT=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-ell tesseract-ocr-eng fonts-dejavu-core gcc \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/pip.lock \
    && pip install --no-cache-dir --require-hashes -r requirements/base.lock
COPY . .
RUN useradd --create-home docintel && mkdir -p /data/media && chown -R docintel /data /app
USER docintel
EXPOSE 8000
