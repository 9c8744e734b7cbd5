"""Training data: detect formats, validate a file (errors, tokens, duplicates, cost) and split off a held-out set."""
