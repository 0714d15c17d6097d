"""The eight decision flags as an eight-character code, one per flag in `FLAG_NAMES` order:
`T` true, `F` false, `-` unknown. A run of WAIT decisions records each change of its flags
as such a code (domain/compaction.py): ~10 bytes where the flags as JSON take ~180."""

from __future__ import annotations

from collections.abc import Mapping

from atp.domain.signals import FLAG_NAMES

_CODE = {True: "T", False: "F", None: "-"}
_VALUE = {v: k for k, v in _CODE.items()}


def is_canonical(flags: Mapping[str, object]) -> bool:
    """True when `flags` holds exactly the eight flags, each true, false or unknown."""
    return (len(flags) == len(FLAG_NAMES) and all(n in flags for n in FLAG_NAMES)
            and all(flags[n] is None or isinstance(flags[n], bool) for n in FLAG_NAMES))


def encode_flags(flags: Mapping[str, bool | None]) -> str:
    """The code of a canonical flag set (ValueError for any other: it has no code)."""
    if not is_canonical(flags):
        raise ValueError(f"not the eight decision flags: {sorted(flags)}")
    return "".join(_CODE[flags[n]] for n in FLAG_NAMES)


def decode_flags(code: str) -> dict[str, bool | None]:
    """The flags of a code made by `encode_flags` (ValueError for anything else)."""
    if len(code) != len(FLAG_NAMES) or any(c not in _VALUE for c in code):
        raise ValueError(f"not a flag code: {code!r}")
    return {n: _VALUE[c] for n, c in zip(FLAG_NAMES, code, strict=True)}
