"""Fallback for `make demo` before `atp demo` exists: analyze a generated market."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    rng = random.Random(7)
    price, rows = 100.0, []
    for i in range(400):
        drift = -0.004 if 200 <= i < 260 else 0.004 if 300 <= i < 360 else 0.0
        price *= math.exp(drift + rng.gauss(0, 0.003))
        rows.append(f"{1_700_000_000 + i * 3600},{price},{price * 1.002},{price * 0.998},"
                    f"{price},{1000 + rng.random() * 500}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.csv"
        path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
        atp = str(Path(sys.executable).with_name("atp"))
        return subprocess.call([atp, "analyze", "--candles", str(path), "--preset",
                                "swing-aggressive"])


if __name__ == "__main__":
    raise SystemExit(main())
