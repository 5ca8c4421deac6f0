"""Glue every ``/api/v1/`` app API shares: URLs, error handler, schema helpers, strict fields, paging, permissions."""
