"""Reading TQL back: tokens to SELECT levels to a builder :class:`Query`."""
