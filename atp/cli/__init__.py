"""The `atp` command line: one module per command group, imported when invoked.

httpx imports its own optional command-line client at import time whenever Rich, Pygments
and Click are installed (they are, for Typer): ~150 ms that `atp check` would pay for a
tool it never runs. Marking that one module absent makes httpx keep its fallback stub.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
