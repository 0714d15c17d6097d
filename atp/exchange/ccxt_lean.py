"""Load ccxt without its ~100 other exchanges: ATP talks to Crypto.com only.

`import ccxt` (and `ccxt.async_support`) executes package `__init__` files that import
every exchange class ccxt ships — about 90 MB of RSS and most of a second of start-up, the
largest part of the platform's memory floor (issue 14: RSS < 200 MB at 500 symbols). This
runs those two `__init__` files with the per-exchange import lines left out, so the
packages define everything else they always define (errors, `Exchange`, precision
helpers, the `exchanges` list); an exchange module is then imported on first use as the
submodule it is (`ccxt.async_support.cryptocom`). ccxt offers no switch for this; the
pinned version (requirements.lock) is exercised by every exchange test. If the layout
ever differs, `install()` falls back to the normal import.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

_EXCHANGE_IMPORT = re.compile(
    r"^from ccxt(?:\.async_support)?\.(?P<mod>[a-z0-9_]+) import (?P=mod)\b.*$", re.M)


def _lean_package(name: str, init: Path) -> types.ModuleType:
    source = _EXCHANGE_IMPORT.sub("", init.read_text(encoding="utf-8"))
    module = types.ModuleType(name)
    module.__file__ = str(init)
    module.__path__ = [str(init.parent)]
    module.__package__ = name
    sys.modules[name] = module
    try:
        exec(compile(source, str(init), "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def install() -> bool:
    """Make `ccxt` and `ccxt.async_support` lean, once; False when ccxt was already
    imported the normal way (or its layout is not the expected one)."""
    if "ccxt.async_support" in sys.modules:
        return getattr(sys.modules["ccxt.async_support"], "_atp_lean", False) is True
    if "ccxt" in sys.modules:
        return False
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        top = _lean_package("ccxt", root / "__init__.py")
        lean = _lean_package("ccxt.async_support", root / "async_support" / "__init__.py")
    except Exception:
        for name in ("ccxt.async_support", "ccxt"):
            sys.modules.pop(name, None)
        return False
    top.async_support = lean  # type: ignore[attr-defined]
    lean._atp_lean = True  # type: ignore[attr-defined]
    return True


install()
