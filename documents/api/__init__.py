"""The documents REST API under ``/api/v1/``: list and upload, detail and delete, chunks, re-ingest, versions, restore.

Readers see only what they may read (any other id is a 404); writing is for librarians.
"""
