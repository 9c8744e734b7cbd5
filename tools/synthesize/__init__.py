"""More training examples from a few good ones: a teacher drafts, the data checks and a judge filter, a person accepts."""
