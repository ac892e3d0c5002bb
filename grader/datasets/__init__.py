"""Loaders for the evaluation data sets shipped in the repository's ``datasets/`` folder."""
