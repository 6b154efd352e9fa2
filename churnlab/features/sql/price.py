"""The price family: billing periods as known at each cutoff."""

from __future__ import annotations

from churnlab.features.sql.core import (
    CUSTOMER_KEYS,
    FOREVER,
    MONTHS_SINCE,
    Family,
    Feature,
    Schema,
    shared_cte,
)

#: the population-wide part (Family.shared): each snapshot's median amount and list price per
#: plan, over every customer the snapshot holds
PLAN_MEDIANS = "price_plan_medians"
MEDIANS = """SELECT sid, plan_key,
    (max(CASE WHEN r_amount = floor((n_amount + 1) / 2) THEN amount END)
     + max(CASE WHEN r_amount = ceil((n_amount + 1) / 2) THEN amount END)) / 2 AS plan_median,
    (max(CASE WHEN r_list = floor((n_list + 1) / 2) THEN list_price END)
     + max(CASE WHEN r_list = ceil((n_list + 1) / 2) THEN list_price END)) / 2
      AS plan_list_median
  FROM ranked GROUP BY sid, plan_key"""


def _price_base(schema: Schema) -> str:
    cols = set(schema["billing"])
    # the discount of a period: the discount column, else what the list price was cut by
    if "discount" in cols:
        disc = "discount"
    elif "list_price" in cols:
        disc = "list_price - amount"
    else:
        disc = "CAST(NULL AS DOUBLE)"
    list_price = "list_price" if "list_price" in cols else "CAST(NULL AS DOUBLE)"
    unpaid = "CASE WHEN paid = FALSE THEN 1 ELSE 0 END" if "paid" in cols else "0"
    plan = "plan" if "plan" in cols else "CAST(NULL AS VARCHAR)"
    customer_plan = "c.plan" if "plan" in schema["customers"] else "CAST(NULL AS VARCHAR)"
    order = "period_start, amount, disc NULLS LAST, unpaid, plan NULLS LAST"
    return f"""WITH {CUSTOMER_KEYS}, b0 AS (
  -- only customers some snapshot holds (the join with keys): every window below is per
  -- customer, so this is exact
  SELECT k.ck, b.period_start, b.amount, {disc} AS disc, {list_price} AS list_price,
         {unpaid} AS unpaid, {plan} AS plan
  FROM billing b JOIN keys k ON k.customer_id = b.customer_id
), b1 AS (
  SELECT *, lag(amount) OVER w AS prev_amount, lag(disc) OVER w AS prev_disc,
         coalesce(lead(period_start) OVER w, {FOREVER}) AS next_start
  FROM b0 WINDOW w AS (PARTITION BY ck ORDER BY {order})
), b2 AS (
  -- running facts up to each period; the latest period before a cutoff carries them
  SELECT *,
    sum(CASE WHEN amount > prev_amount THEN 1 ELSE 0 END) OVER w AS cum_increases,
    max(CASE WHEN amount > prev_amount THEN period_start END) OVER w AS last_increase,
    max(CASE WHEN prev_disc > 0 AND coalesce(disc, 0) <= 0 THEN period_start END) OVER w
      AS last_discount_end,
    sum(unpaid) OVER w AS cum_unpaid
  FROM b1 WINDOW w AS (PARTITION BY ck ORDER BY {order}
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), points AS (
  SELECT sid, cutoff, 0 AS lag_months, cutoff AS at FROM snaps
  UNION ALL SELECT sid, cutoff, 3, cutoff - INTERVAL 3 MONTH FROM snaps
  UNION ALL SELECT sid, cutoff, 6, cutoff - INTERVAL 6 MONTH FROM snaps
), state AS (
  -- the latest billing period starting before each point (cutoff, 3 and 6 months earlier):
  -- the period with period_start < at <= next_start (a range join against a few dozen points)
  SELECT b2.*, t.sid, t.lag_months
  FROM b2 JOIN points t ON t."at" > b2.period_start AND t."at" <= b2.next_start
), agg0 AS (
  SELECT ck, sid,
    max(CASE WHEN lag_months = 0 THEN amount END) AS amount,
    max(CASE WHEN lag_months = 3 THEN amount END) AS amount_3m,
    max(CASE WHEN lag_months = 6 THEN amount END) AS amount_6m,
    max(CASE WHEN lag_months = 0 THEN disc END) AS disc,
    max(CASE WHEN lag_months = 0 THEN list_price END) AS list_price,
    max(CASE WHEN lag_months = 0 THEN plan END) AS plan,
    max(CASE WHEN lag_months = 0 THEN cum_increases END) AS cum_increases,
    max(CASE WHEN lag_months = 6 THEN cum_increases END) AS cum_increases_6m,
    max(CASE WHEN lag_months = 0 THEN cum_unpaid END) AS cum_unpaid,
    max(CASE WHEN lag_months = 3 THEN cum_unpaid END) AS cum_unpaid_3m,
    max(CASE WHEN lag_months = 6 THEN cum_unpaid END) AS cum_unpaid_6m,
    max(CASE WHEN lag_months = 0 THEN last_increase END) AS last_increase,
    max(CASE WHEN lag_months = 0 THEN last_discount_end END) AS last_discount_end
  FROM state GROUP BY ck, sid
), agg1 AS (
  -- plan: the billed plan, else the customer's plan; '' groups customers without a plan
  SELECT p.customer_id, a.*, coalesce(a.plan, {customer_plan}, '') AS plan_key
  FROM pop p JOIN keys k ON k.customer_id = p.customer_id
  JOIN agg0 a ON a.ck = k.ck AND a.sid = p.sid
  LEFT JOIN customers c ON c.customer_id = p.customer_id
), ranked AS (
  -- medians written out as the mean of the two middle values (what DuckDB's and Spark's
  -- median interpolate with different roundings): rank by value, nulls last
  SELECT sid, plan_key, amount, list_price,
    row_number() OVER (PARTITION BY sid, plan_key ORDER BY amount NULLS LAST) AS r_amount,
    count(amount) OVER (PARTITION BY sid, plan_key) AS n_amount,
    row_number() OVER (PARTITION BY sid, plan_key ORDER BY list_price NULLS LAST) AS r_list,
    count(list_price) OVER (PARTITION BY sid, plan_key) AS n_list
  FROM agg1
), medians AS (
  {shared_cte(schema, PLAN_MEDIANS, MEDIANS)}
), agg AS (
  SELECT a.*, m.plan_median, m.plan_list_median FROM agg1 a
  JOIN medians m ON m.sid = a.sid AND m.plan_key = a.plan_key
)"""


PRICE = Family(
    name="price",
    base=_price_base,
    shared=((PLAN_MEDIANS, "medians"),),
    features=(
        Feature(
            "price_amount",
            "a.amount",
            "currency/month",
            "amount charged for the latest billing period that started before the cutoff",
            "pays {value:,.2f} per period",
            # the absolute amount is mostly the plan the customer chose (context); what a
            # team can change shows in the amount vs the plan and in the price changes
            held=True,
        ),
        Feature(
            "price_pct_change_3m",
            "a.amount / NULLIF(a.amount_3m, 0) - 1",
            "share",
            "relative change of the current amount against the amount 3 months earlier",
            "price changed {value:+.0%} in 3 months",
        ),
        Feature(
            "price_pct_change_6m",
            "a.amount / NULLIF(a.amount_6m, 0) - 1",
            "share",
            "relative change of the current amount against the amount 6 months earlier",
            "price changed {value:+.0%} in 6 months",
        ),
        Feature(
            "price_increases_6m",
            "coalesce(a.cum_increases, 0) - coalesce(a.cum_increases_6m, 0)",
            "count",
            "billing periods in the last 6 months charged more than the period before",
            "{value:.0f} price increase(s) in the last 6 months",
        ),
        Feature(
            "price_months_since_increase",
            MONTHS_SINCE.format(since="a.last_increase", until="p.cutoff"),
            "months",
            "calendar months from the latest price increase to the cutoff (missing: never)",
            "last price increase {value:.0f} month(s) ago",
        ),
        Feature(
            "price_discount_share",
            "a.disc / NULLIF(coalesce(a.list_price, a.amount + a.disc), 0)",
            "share",
            "current discount (or list price - amount) as a share of the list price "
            "(or of amount + discount when there is no list price)",
            "gets a {value:.0%} discount",
            requires=("discount|list_price",),
        ),
        Feature(
            "price_discount_ended_90d",
            "CASE WHEN a.last_discount_end >= p.cutoff - INTERVAL 90 DAY THEN 1 ELSE 0 END",
            "flag",
            "a discount ended (a discounted period followed by an undiscounted one) in the "
            "last 90 days",
            "a discount ended in the last 90 days",
            requires=("discount|list_price",),
            template_no="no discount ended in the last 90 days",
        ),
        Feature(
            "price_amount_vs_plan",
            "a.amount / NULLIF(a.plan_median, 0)",
            "ratio",
            "current amount over the median current amount of the same plan in this snapshot",
            "pays {value:.2f} times the plan's median",
        ),
        Feature(
            "price_list_vs_plan",
            "a.list_price / NULLIF(a.plan_list_median, 0)",
            "ratio",
            "current list price over the median current list price of the same plan in this "
            "snapshot (the price before any discount; price_amount_vs_plan uses the amount)",
            "list price {value:.2f} times the plan's median",
            requires=("list_price",),
        ),
        Feature(
            "price_unpaid_6m",
            "coalesce(a.cum_unpaid, 0) - coalesce(a.cum_unpaid_6m, 0)",
            "count",
            "billing periods started in the last 6 months that are not paid",
            "{value:.0f} unpaid billing period(s) in the last 6 months",
            requires=("paid",),
        ),
        Feature(
            "price_unpaid_3m",
            "coalesce(a.cum_unpaid, 0) - coalesce(a.cum_unpaid_3m, 0)",
            "count",
            "billing periods started in the last 3 months that are not paid",
            "{value:.0f} unpaid billing period(s) in the last 3 months",
            requires=("paid",),
        ),
    ),
)
