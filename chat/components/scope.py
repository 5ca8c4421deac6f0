"""Whose documents a search may return. Plain Python (no Haystack import): the web process may load it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccessScope:
    """Everything (librarian) or only the documents shared with these access groups (default deny)."""

    unrestricted: bool
    group_ids: tuple[int, ...]

    @property
    def is_empty(self) -> bool:
        """Whether the scope allows nothing (a reader in no access group): callers search nothing at all."""
        return not self.unrestricted and not self.group_ids
