"""The fluent, immutable builder: ``select()`` and :class:`~tqlbuilder.build.query.Query`."""
