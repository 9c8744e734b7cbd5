"""Dated data files: prices, limits and model facts, each with its source."""
