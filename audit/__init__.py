"""The audit app: AuditLog, the append-only record of who did what to which object, from where.

One writer (``audit.services.audit_log_write``) records the actor, IP address, user agent and request id; the
admin only reads. Rows cannot be changed through the ORM, PostgreSQL triggers refuse UPDATE and DELETE, and
``audit_protect`` takes the table away from the app's roles so they can only read and append.
"""
