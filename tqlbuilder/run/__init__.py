"""Executors (embedded engine, REST, local server) and the `Result` they return."""
