"""The fluent, immutable builder: ``select()`` and `Query`."""
