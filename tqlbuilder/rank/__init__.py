"""Ranking helpers over results: reciprocal rank fusion."""
