"""The review app: the librarians' queue of answers readers found unhelpful, and replays of stored answers.

A thumbs-down opens a ReviewItem with a copy of the question, the answer and its passages; a librarian resolves it,
re-ingests a document, quarantines a passage or turns it into an evaluation question. A Replay asks a stored
answer's question again against today's index and says what changed. Neither is ever shown to readers.
"""
