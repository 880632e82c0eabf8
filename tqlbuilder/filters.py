"""``tqlbuilder.filters``: Mongo-style filter dicts and LlamaIndex filters as TQL conditions.

The implementation lives in `tqlbuilder.build.filters`; this module is the public path
(``from tqlbuilder import filters`` or ``from tqlbuilder.filters import from_dict``).
"""

from __future__ import annotations

from tqlbuilder.build.filters import from_dict, like_pattern
from tqlbuilder.build.llama_filters import from_metadata_filters

__all__ = ["from_dict", "from_metadata_filters", "like_pattern"]
