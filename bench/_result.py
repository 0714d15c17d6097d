"""The one machine-readable line each bench script ends with, read by `bench/collect.py`.

`BENCH {"script": ..., "rows": [{"what", "value", "unit", "target", "ok"}, ...]}` on
stdout, so the collector never scrapes a script's prose; `ok` is None for a figure with
no target (shown, not judged).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PREFIX = "BENCH "


def row(what: str, value: float | str, unit: str, target: str = "",
        ok: bool | None = None) -> dict[str, Any]:
    """One figure: what was measured, its value and unit, the target in words, pass/fail."""
    if isinstance(value, float):
        value = round(value, 3)
    return {"what": what, "value": value, "unit": unit, "target": target, "ok": ok}


def emit(rows: list[dict[str, Any]]) -> None:
    """Print the script's result line (the last line of its stdout)."""
    script = Path(sys.argv[0]).name
    print(PREFIX + json.dumps({"script": script, "rows": rows}, ensure_ascii=False),
          flush=True)
