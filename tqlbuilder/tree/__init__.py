"""The typed expression tree: literal rendering, expression nodes, functions (``F``), sources."""
