"""The chat app's services: the question's path and everything around it that crosses models or does I/O.

The path itself (:mod:`.answering`), permission-filtered retrieval (:mod:`.retrieval`), chat sessions with their
history, feedback and the source view (:mod:`.sessions`), question quotas (:mod:`.quota`) and the per-loop
pipeline cache (:mod:`.pipelines_cache`).
"""
