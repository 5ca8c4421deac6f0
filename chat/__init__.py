"""The chat app: chat sessions, questions (Query), answers (Response) and the readers' feedback.

It holds the question's path from retrieval to a guarded, cited answer (:mod:`chat.services.answering`), the
WebSocket consumer, the questions API (:mod:`chat.api`) and the reader pages.
"""
