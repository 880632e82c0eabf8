"""Executors (embedded engine, REST, local server) and the :class:`Result` they return."""
