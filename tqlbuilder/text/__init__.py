"""Tools over TQL text that need no tree: the lexer, the formatter and the hazard checker."""
