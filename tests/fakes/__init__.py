"""Fakes the tests drive real clients against: a local OpenAI-compatible server, a tiny model builder, an embedder."""
