"""The house's import contracts, checked on the source (an import-linter equivalent anyone can run with pytest).

- Transport (views, API, consumers, admin, tasks, management commands, urls) never imports the heavy RAG libraries:
  Haystack, qdrant-client / Qdrant Edge, Docling, NeMo Guardrails, LLM Guard. Services, pipelines and components do.
- ``documents`` never imports ``chat`` (ingestion uses the ``guards`` package, which belongs to neither app).
- ``guards`` imports no app but ``docintel`` and ``documents.services.textnorm``.
- Services never import ``django.http`` or ``rest_framework``: they take an explicit
  :class:`docintel.context.ActorContext` (actor, IP, user agent, request id), which transports build.
- No module of the product is longer than 600 lines (a module that grows past it becomes a package).

Every import is read, including those inside functions (the house's lazy imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("docintel", "documents", "chat", "audit", "guards", "search", "review", "evaluation", "devstack")
APPS = ("docintel", "documents", "chat", "audit", "guards", "search", "review", "evaluation")
HEAVY = ("haystack", "haystack_integrations", "qdrant_client", "qdrant_edge", "docling", "nemoguardrails", "llm_guard")
MAX_LINES = 600


def _modules(*packages: str) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (REPO / package).rglob("*.py")
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    )


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _is_transport(path: Path) -> bool:
    rel = path.relative_to(REPO)
    name = rel.name
    return (
        name in ("views.py", "consumers.py", "tasks.py", "urls.py", "routing.py")
        or name.startswith("admin")
        or "api" in rel.parts
        or "commands" in rel.parts
    )


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(f"{root}.") for root in roots)


def test_the_scan_sees_transport_modules_and_lazy_imports():
    transport = [p for p in _modules(*PACKAGES) if _is_transport(p)]
    assert len(transport) >= 20
    assert "haystack" in _imports(REPO / "chat" / "services" / "retrieval.py") | _imports(
        REPO / "chat" / "components" / "retrieval.py"
    )


def test_transport_never_imports_the_rag_libraries():
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, HEAVY))
        for path in _modules(*PACKAGES)
        if _is_transport(path)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


HTTP = ("django.http", "rest_framework")


def _is_service(path: Path) -> bool:
    rel = path.relative_to(REPO)
    return "services" in rel.parts or rel.name == "services.py"


def test_services_never_import_http_requests_or_rest_framework():
    services = [p for p in _modules(*APPS) if _is_service(p)]
    assert len(services) >= 30  # the scan sees every app's services (packages and services.py modules)
    assert REPO / "documents" / "services" / "lifecycle.py" in services and REPO / "audit" / "services.py" in services
    assert "django.http.HttpRequest" in _imports(REPO / "documents" / "admin.py")  # the scan would see one
    offenders = {str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, HTTP)) for path in services}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_documents_never_imports_chat():
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, ("chat",)))
        for path in _modules("documents")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_guards_belongs_to_no_app():
    apps = ("chat", "search", "review", "audit", "documents")
    allowed = ("documents.services.textnorm",)
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, apps) and not _under(n, allowed))
        for path in _modules("guards")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_product_code_never_imports_the_dev_stack():
    """Only the development commands (runportal, vectorstore) start the dev stack; product code reaches it by URL."""
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, ("devstack",)))
        for path in _modules(*APPS)
        if "commands" not in path.relative_to(REPO).parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert "devstack" in _imports(REPO / "docintel" / "management" / "commands" / "runportal.py")


def test_the_dev_stack_imports_no_app():
    """The store and the launchers run without Django: they import no app of the portal."""
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imports(path) if _under(n, APPS))
        for path in _modules("devstack")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_longer_than_600_lines(package):
    long = {
        str(p.relative_to(REPO)): n
        for p in _modules(package)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
