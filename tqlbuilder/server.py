"""``python -m tqlbuilder.server``: the local REST server's command line and public names.

The server itself lives in :mod:`tqlbuilder.run.server`; this module is the stable entry point
(``python -m tqlbuilder.server --root DIR``) and the import path documented for
:class:`QueryServer`.
"""

from __future__ import annotations

import sys

from tqlbuilder.run.server import API_PATH, DEFAULT_MAX_BODY_BYTES, QueryServer, main

__all__ = ["API_PATH", "DEFAULT_MAX_BODY_BYTES", "QueryServer", "main"]

if __name__ == "__main__":
    sys.exit(main())
