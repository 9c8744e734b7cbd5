"""Retrieval: load documents, chunk them, embed and index them into Chroma with BM25 beside it, and search."""
