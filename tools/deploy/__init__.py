"""Deployment: package a model and its retrieval into one folder that `tunewise serve` runs."""
