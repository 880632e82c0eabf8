"""Lowering a builder `Query` into SELECT levels and printing them as one line of TQL."""
