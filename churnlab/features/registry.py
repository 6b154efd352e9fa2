"""The feature registry: what every feature means and how to say its value in plain words.

Entries come from the feature definitions themselves (:mod:`churnlab.features.sql`: each feature's SQL
sits next to its family, unit, description and reason template), so a feature is added in one
place. Features whose names depend on the data (one per usage column, one per customer
attribute) are matched by pattern; any other column (say from a user's own feature table)
gets a generic entry in family ``other``. :func:`reason_text` turns a feature and its value
into a short phrase for per-customer reasons, whatever the value's type.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from numbers import Number

import pandas as pd

from churnlab.features.sql import FAMILIES, Feature

GENERIC_TEMPLATE = "{feature} = {value}"


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature is: family, unit, a one-line description and a reason template.

    ``template`` is a :meth:`str.format` string with ``{value}`` (and optionally
    ``{feature}``), e.g. ``'{value:.0f} support tickets still open'``.
    """

    name: str
    family: str
    unit: str
    description: str
    template: str
    #: for flags (unit 'flag'): the phrase when the value is 0
    template_no: str = ""


def spec_of(family: str, feature: Feature) -> FeatureSpec:
    """The registry entry of one feature definition of ``family``."""
    return FeatureSpec(
        feature.name,
        family,
        feature.unit,
        feature.description,
        feature.template,
        feature.template_no,
    )


@cache
def _known() -> dict[str, FeatureSpec]:
    """Every fixed feature of every family (data-named ones are matched by pattern)."""
    return {f.name: spec_of(family.name, f) for family in FAMILIES for f in family.features}


@cache
def _patterns() -> list[tuple[re.Pattern[str], str, Feature]]:
    """(regex on the name, family, pattern) for the features named after data columns."""
    out = []
    for family in FAMILIES:
        for p in family.patterns:
            regex = re.escape(p.name).replace(re.escape("{col}"), "(?P<col>.+)")
            out.append((re.compile(regex), family.name, p))
    return out


def feature_spec(name: str, specs: Mapping[str, FeatureSpec] | None = None) -> FeatureSpec:
    """The registry entry of a feature column.

    ``specs`` first: the entries a feature table was built with
    (``FeatureTable.meta['specs']``), which name the data's own columns exactly, e.g.
    ``Sessions`` for ``engagement_sessions_2_30d``. Then the known features, then the
    patterns for features named after the data (``engagement_<column>_30d``,
    ``profile_<attribute>``, ...), else a generic entry: family ``other``, template
    ``'{feature} = {value}'``.
    """
    if specs and name in specs:
        return specs[name]
    known = _known().get(name)
    if known is not None:
        return known
    for regex, family, p in _patterns():
        match = regex.fullmatch(name)
        if match:
            col = match.group("col").replace("_", " ")
            unit = "value" if p.unit == "{kind}" else p.unit.format(col=col)
            return FeatureSpec(
                name,
                family,
                unit,
                p.description.format(col=col),
                p.template.format(col=col),
            )
    return FeatureSpec(name, "other", "value", f"column {name!r}", GENERIC_TEMPLATE)


def _plain(value: object) -> object:
    """numpy/pandas scalars as Python ones; booleans as 0/1; missing as None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, TypeError):
            value = value.item()
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def reason_text(name: str, value: object, spec: FeatureSpec | None = None) -> str:
    """A short plain-words phrase for a feature's value, e.g. '3 support tickets still open'.

    Safe for every value: missing values (None, NaN, pd.NA) say what missing means when the
    description says it (``'days since ticket: no ticket'``), else ``'<feature> unknown'``;
    text and categories give ``"plan is 'basic'"``; numbers use the feature's template and fall
    back to ``'<feature> = <value>'`` when the template does not fit the value. ``spec`` is the
    feature's entry when the caller has it (see :func:`feature_spec`).
    """
    spec = spec or feature_spec(name)
    label = name.split("_", 1)[1].replace("_", " ") if spec.family != "other" else name
    value = _plain(value)
    if value is None:
        # a feature whose description says what "missing" means says that, e.g. "no ticket"
        meaning = re.search(r"missing: ([^)]*)\)", spec.description)
        return f"{label}: {meaning.group(1)}" if meaning else f"{label} unknown"
    if not isinstance(value, Number):
        return f"{label} is {str(value)!r}"
    if spec.unit == "flag" and spec.template_no and value in (0, 1):
        return spec.template if value == 1 else spec.template_no
    if spec.template == GENERIC_TEMPLATE:
        return f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
    try:
        return spec.template.format(value=value, feature=name)
    except (ValueError, TypeError, KeyError, IndexError):
        return f"{label} = {value}"


#: plain-words rewrites of the registry's descriptions for a reader of the report, who knows
#: the end of the month rather than "the cutoff" (applied in order)
_PLAIN = (
    (r"\s*\([^()]*\)", ""),  # the parenthetical details: units, what missing means
    (
        r"^(?:calendar )?(days|months) from (.+?)(?:'s (?:opening )?day)? to the cutoff$",
        r"\1 since \2",
    ),
    (r"^(days|months) since (.+?) day$", r"\1 since \2"),
    (r"in the (\d+) days before the cutoff", r"in the last \1 days"),
    (r" (?:that started )?before the cutoff", ""),
    (r" before it$", ""),
    (r" to the cutoff", " to the month's end"),
    (r" in this snapshot", " this month"),
    (r"^customer attribute '(.+)'$", r"\1 (customer attribute)"),
)


def feature_label(name: str) -> str:
    """A feature in words for tables and charts, from its registry description.

    ``'engagement_days_since_active'`` -> ``'Days since the latest usage'`` (the details
    in parentheses and the word "cutoff" left out: the description has them); a column the
    registry does not know keeps its name.
    """
    spec = feature_spec(name)
    if spec.family == "other" and spec.template == GENERIC_TEMPLATE:
        return name
    text = spec.description
    for pattern, replacement in _PLAIN:
        text = re.sub(pattern, replacement, text)
    text = text.strip() or name
    return text[0].upper() + text[1:]
