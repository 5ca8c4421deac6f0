"""The audit app's command: ``audit_protect``, which gives the audit table to its own owner role."""
