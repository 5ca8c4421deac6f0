"""Answering's custom Haystack components and the plain-Python types services share with them.

Components: the query encoder and the permission-filtered hybrid Qdrant retriever (:mod:`.retrieval`), the
grounded and condense prompt builders (:mod:`.prompting`). Types without a Haystack import, safe for the web
process: the access scope (:mod:`.scope`) and the prompt inputs (:mod:`.prompting_types`).
"""
