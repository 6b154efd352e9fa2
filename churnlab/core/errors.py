"""The one exception type for problems a user can cause (and fix).

Anything a user can get wrong (a missing column, a date that does not parse, an output
folder that already exists) raises :class:`ChurnlabError` with a message written for them:
what is wrong, where (table or file, column, how many rows, a few examples) and what to do.
The command line turns it into exit code 2 and one clear paragraph; any other exception is a
bug in churnlab and may show a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ChurnlabError(Exception):
    """A problem with the user's input or environment; the message says what to do."""

    exit_code = 2


def examples(values: Iterable[Any], limit: int = 5) -> str:
    """Format up to ``limit`` example values for an error message: ``'a', 'b', ... (+3 more)``."""
    items = list(values)
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in items[:limit])
    more = len(items) - limit
    return shown + (f" ... (+{more} more)" if more > 0 else "")
