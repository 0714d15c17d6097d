"""The domain's refusal of a write: which fields are wrong and why.

Every channel (API, dashboard, Telegram) turns one of these into its own answer (a 422
whose `loc` names the field, a chat reply), so the message is written for the person who
sent the value.
"""

from __future__ import annotations


class FieldError(ValueError):
    """One or more refused fields; `problems` maps field → why (and how to fix it)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))

    @property
    def field(self) -> str:
        """The first refused field (what a single-error answer names)."""
        return next(iter(self.problems))
