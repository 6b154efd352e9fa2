"""The profile family: tenure at each cutoff and the customer's static attributes."""

from __future__ import annotations

from churnlab.features.sql.core import (
    DAYS_SINCE,
    Family,
    Feature,
    Schema,
    column_sql,
    distinct_parts,
)

#: customers columns that are never features: the id and the dates that define churn itself
NOT_ATTRIBUTES = ("customer_id", "signup_date", "churn_date")
#: average days per month, so that tenure is a continuous number of months
DAYS_PER_MONTH = 30.4375


def _profile_base(schema: Schema) -> str:
    # attributes under positional aliases: a column called, say, 'sid' cannot clash
    cols = "".join(
        f", c.{column_sql(schema, 'customers', col)} AS attr{i}"
        for i, col in enumerate(attribute_names(schema))
    )
    return f"""WITH agg AS (
  SELECT p.customer_id, p.sid, c.signup_date{cols}
  FROM pop p JOIN customers c ON c.customer_id = p.customer_id
)"""


def attribute_names(schema: Schema) -> dict[str, str]:
    """customers column -> its feature name after ``profile_``, for every static attribute.

    Date columns are left out (a date is not a category); two columns that snake-case alike
    keep distinct names (``plan``, ``plan_2``), and none takes a fixed feature's name.
    """
    columns = [
        col
        for col, kind in schema["customers"].items()
        if col not in NOT_ATTRIBUTES and kind != "date"
    ]
    return distinct_parts(columns, _PATTERNS, (f.name for f in _FIXED))


_FIXED = (
    Feature(
        "profile_tenure_months",
        f"CAST({DAYS_SINCE.format(since='a.signup_date', until='p.cutoff')} AS DOUBLE) "
        f"/ CAST({DAYS_PER_MONTH} AS DOUBLE)",
        "months",
        f"months from signup to the cutoff (days / {DAYS_PER_MONTH})",
        "a customer for {value:.0f} month(s)",
    ),
)
_PATTERNS = (
    Feature(
        "profile_{col}",
        "a.attr{i}",
        "{kind}",
        "customer attribute {col!r} (static, known at signup)",
        "{col} = {{value:g}}",
    ),
)

PROFILE = Family(
    name="profile",
    base=_profile_base,
    features=_FIXED,
    patterns=_PATTERNS,
    columns=attribute_names,
)
