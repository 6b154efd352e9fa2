"""What churn means for a run: the label horizon, the churn kind and the inactivity window.

A :class:`ChurnDefinition` travels as one value from the command line to the SQL that builds
populations and labels, instead of three loose arguments; docs/definitions.md says what each
kind means.
"""

from __future__ import annotations

from dataclasses import dataclass

from churnlab.core.errors import ChurnlabError

CANCELLATION = "cancellation"
INACTIVITY = "inactivity"
CHURN_KINDS: tuple[str, ...] = (CANCELLATION, INACTIVITY)


@dataclass(frozen=True)
class ChurnDefinition:
    """Population and label of every snapshot.

    ``horizon``: months after the cutoff in which a churn counts (the label window);
    ``churn``: ``cancellation`` (a ``churn_date`` in the window) or ``inactivity`` (no usage
    row in the window, for shops without cancellations); ``inactive_days``: with inactivity
    churn, a customer is in a snapshot's population when they have a usage row in the N days
    before its cutoff. Invalid values raise :class:`ChurnlabError` on construction.
    """

    horizon: int = 1
    churn: str = CANCELLATION
    inactive_days: int = 30

    def __post_init__(self) -> None:
        if self.churn not in CHURN_KINDS:
            raise ChurnlabError(
                f"Unknown churn definition {self.churn!r}: use 'cancellation' (from "
                "churn_date) or 'inactivity' (no usage in the horizon)."
            )
        for name in ("horizon", "inactive_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ChurnlabError(
                    f"The {name} must be a whole number of at least 1, not {value!r}."
                )

    def with_horizon(self, horizon: int) -> ChurnDefinition:
        """The same definition with another horizon (e.g. one month for the KPIs)."""
        return ChurnDefinition(horizon, self.churn, self.inactive_days)


#: the default: cancellation churn within one month
DEFAULT_CHURN = ChurnDefinition()
