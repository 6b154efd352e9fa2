"""The driver-family registry: the one place that says what each family is.

Every other place (the tables that turn a family on, the feature SQL, the order families are
shown in, their colours, the action a retention team takes, which families are *context*
rather than something a team can fix, the synthetic world) reads this registry, so adding or
renaming a family is one edit here.

A families file may name families of its own (a user's feature table); :func:`family` gives
them an entry too: actionable, the generic action, a colour from a spare palette, shown after
the built-in families in name order.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONABLE = "actionable"
CONTEXT = "context"


@dataclass(frozen=True)
class DriverFamily:
    """One driver family: its name, how it reads, what turns it on and what to do about it."""

    name: str
    #: the family in words, for reports ("voice of customer")
    title: str
    #: the contract table that turns the family on (None for families of a user's own)
    table: str | None
    #: what a retention team does for a customer whose risk this family drives
    action: str
    #: colour in every plot
    color: str
    #: ``actionable`` (a team can fix it) or ``context`` (who the customer is)
    role: str = ACTIONABLE


#: the built-in families, in the order they are shown everywhere
FAMILIES: tuple[DriverFamily, ...] = (
    DriverFamily("price", "price", "billing", "plan review or retention offer", "#4c72b0"),
    DriverFamily("support", "support", "tickets", "escalate and close open tickets", "#dd8452"),
    DriverFamily(
        "onboarding", "onboarding", "onboarding", "guided restart of onboarding", "#55a868"
    ),
    DriverFamily("engagement", "engagement", "usage", "re-activation campaign", "#c44e52"),
    DriverFamily(
        "voice_of_customer",
        "voice of customer",
        "feedback",
        "follow up on the customer's feedback",
        "#8172b3",
    ),
    DriverFamily("profile", "profile", "customers", "account review", "#937860", CONTEXT),
)
#: the family of every feature a families file does not name
OTHER = "other"
DEFAULT_ACTION = "account review"
_OTHER_COLOR = "#8c8c8c"
_SPARE_COLORS = ("#64b5cd", "#da8bc3", "#ccb974", "#8da0cb", "#a6d854")

FAMILY_ORDER: tuple[str, ...] = tuple(f.name for f in FAMILIES)
_BY_NAME = {f.name: f for f in FAMILIES}
#: table -> the family it turns on
TABLE_FAMILIES: dict[str, str] = {f.table: f.name for f in FAMILIES if f.table}


def family(name: str) -> DriverFamily:
    """The registry entry of ``name``; families of a user's own get a generic entry."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    color = _OTHER_COLOR if name == OTHER else _SPARE_COLORS[sum(map(ord, name)) % 5]
    return DriverFamily(name, name.replace("_", " "), None, DEFAULT_ACTION, color)


def ordered(names) -> list[str]:
    """``names`` in display order: the built-in families first, then the rest by name."""
    names = set(names)
    rest = sorted(n for n in names if n not in _BY_NAME and n != OTHER)
    tail = [OTHER] if OTHER in names else []
    return [f for f in FAMILY_ORDER if f in names] + rest + tail


def context_families(names) -> frozenset[str]:
    """The families among ``names`` whose registry role is *context* (who the customer is).

    Driver credit keeps them at the customer's own values; a families file may name others.
    """
    return frozenset(n for n in names if family(n).role == CONTEXT)
