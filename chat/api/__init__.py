"""The questions API under ``/api/v1/``: questions, chat sessions with their history, feedback on answers.

A question is answered at once (``query``) or streamed as server-sent events (``query/stream``).
"""
