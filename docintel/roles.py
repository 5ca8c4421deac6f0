"""Role names. Roles are Django groups; any group can also serve as an access group on documents."""

from __future__ import annotations

LIBRARIAN = "Librarian"
READER = "Reader"
ROLE_GROUPS = (LIBRARIAN, READER)
