"""Every feature on a tiny hand-made dataset, with the answer worked out by hand.

The snapshot under test is March 2025: cutoff 2025-04-01. Customers: A (long-standing,
active in every family), B (signed up on the last day of March), C (almost no activity, to
check zeros against missing values) and D (churns 2025-04-20, so labelled 1). Comments give
the arithmetic; rows dated exactly at the cutoff are there to prove they are excluded.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from churnlab.contract import dataset_from_frames
from churnlab.core.churn import ChurnDefinition
from churnlab.core.months import month_range
from churnlab.features import build_feature_table

NAN = float("nan")


def tables() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "signup_date": ["2024-09-15", "2025-03-31", "2025-01-10", "2024-10-01"],
            "churn_date": [None, None, None, "2025-04-20"],
            "plan": ["basic", "pro", "basic", "basic"],
            "segment": ["smb", "ent", "smb", "smb"],
            "seats": [3.0, 50.0, 1.0, 2.0],
            "Region Name": ["north", "south", "north", "east"],
        }
    )
    billing = pd.DataFrame(
        {
            "customer_id": ["A"] * 7 + ["B", "D", "D"],
            "period_start": [
                "2024-10-01",
                "2024-11-01",
                "2024-12-01",
                "2025-01-01",
                "2025-02-01",
                "2025-03-01",
                "2025-04-01",  # at the cutoff: excluded
                "2025-03-31",
                "2025-02-15",
                "2025-03-15",
            ],
            "amount": [10.0, 10.0, 10.0, 12.0, 12.0, 15.0, 20.0, 30.0, 20.0, 20.0],
            "list_price": [12.0, 12.0, 12.0, 12.0, 12.0, 15.0, 20.0, 40.0, 20.0, 20.0],
            "discount": [2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0],
            "paid": [True, True, True, True, False, True, True, True, True, None],
        }
    )
    tickets = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "A", "C"],
            "opened_at": [
                "2025-03-25T10:00:00",
                "2025-02-01T00:00:00",
                "2025-03-30T00:00:00",
                "2025-04-01T00:00:00",  # at the cutoff: excluded
                "2024-10-01T00:00:00",
                "2025-03-31T23:59:00",
            ],
            "resolved_at": [
                "2025-03-26T12:00:00",  # 26 hours
                "2025-02-01T06:00:00",  # 6 hours
                "2025-04-02T00:00:00",  # after the cutoff: open, CSAT unknown
                "2025-04-01T05:00:00",
                "2024-10-02T00:00:00",  # more than 180 days before the cutoff
                None,
            ],
            "csat": [2.0, 4.0, 1.0, 1.0, 5.0, None],
            "escalated": [True, False, False, True, False, False],
        }
    )
    onboarding = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "B", "B", "D", "D"],
            "step": ["account", "invite", "report", "account", "account", "invite", "account"]
            + ["secret"],
            "completed_at": [
                "2024-09-16T08:00:00",  # 1 day after signup
                "2024-09-25T08:00:00",  # 10 days
                "2024-10-20T08:00:00",  # 35 days: finished 35 days after signup
                "2024-12-01T08:00:00",  # a repeat: the first completion counts
                "2025-03-31T12:00:00",
                "2025-04-01T00:00:00",  # at the cutoff: not done yet at the snapshot
                "2024-10-01T09:00:00",
                "2025-04-05T00:00:00",  # a step first seen after the cutoff
            ],
        }
    )
    usage = pd.DataFrame(
        {
            "customer_id": ["A"] * 6 + ["B", "C", "D"],
            "date": [
                "2025-03-31",
                "2025-03-02",  # = cutoff - 30 days: in the last 30 days
                "2025-03-01",  # in the 30 days before those
                "2025-01-01",  # = cutoff - 90 days: in the last 90 days
                "2024-12-31",  # outside the 90 days
                "2025-04-01",  # at the cutoff: excluded
                "2025-04-02",
                "2024-11-20",
                "2025-05-31",  # the data's last day
            ],
            "sessions": [2.0, 1.0, 4.0, 8.0, 100.0, 50.0, 1.0, 1.0, 1.0],
            "minutes": [10.0, 5.0, 0.0, 1.0, 100.0, 50.0, 1.0, 1.0, 1.0],
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "C"],
            "responded_at": [
                "2025-01-10T10:00:00",
                "2025-03-15T10:00:00",
                "2025-04-01T00:00:00",  # at the cutoff: excluded
                "2025-02-01T10:00:00",
            ],
            "score": [9.0, 5.0, 10.0, 7.0],
        }
    )
    return {
        "customers": customers,
        "billing": billing,
        "tickets": tickets,
        "onboarding": onboarding,
        "usage": usage,
        "feedback": feedback,
    }


@pytest.fixture(scope="module")
def table():
    return build_feature_table(dataset_from_frames(tables()), ["2025-02", "2025-03"])


def value(table, customer: str, feature: str, month: str = "2025-03"):
    frame = table.frame
    row = frame[(frame.customer_id == customer) & (frame.snapshot == month)]
    assert len(row) == 1, (customer, month)
    return row[feature].iloc[0]


def check(table, feature: str, expected: dict[str, float], month: str = "2025-03") -> None:
    got = {c: value(table, c, feature, month) for c in expected}
    for customer, want in expected.items():
        have = got[customer]
        if isinstance(want, float) and math.isnan(want):
            assert pd.isna(have), (feature, customer, got)
        else:
            assert have == pytest.approx(want), (feature, customer, got)


def test_shape_labels_and_metadata(table):
    frame = table.frame
    keys = ["customer_id", "snapshot", "churned", "months_to_churn", "churn_event"]
    assert list(frame.columns[:5]) == keys
    assert list(zip(frame.snapshot, frame.customer_id, strict=True)) == [
        ("2025-02", "A"),
        ("2025-02", "C"),
        ("2025-02", "D"),
        ("2025-03", "A"),
        ("2025-03", "B"),
        ("2025-03", "C"),
        ("2025-03", "D"),
    ]
    assert frame.loc[frame.snapshot == "2025-03", "churned"].tolist() == [0, 0, 0, 1]
    assert frame["churned"].dtype == "Int8"
    assert table.value_col == "price_amount"
    assert table.segment_col == "profile_segment"
    assert table.definition == ChurnDefinition(1, "cancellation", 30)
    assert table.meta["months"] == ["2025-02", "2025-03"]
    assert set(table.meta["specs"]) == set(table.features)
    assert set(table.families.values()) == {
        "price",
        "support",
        "onboarding",
        "engagement",
        "voice_of_customer",
        "profile",
    }
    assert list(table.families) == list(frame.columns[5:])  # time to churn is no feature
    assert (table.duration_col, table.event_col) == ("months_to_churn", "churn_event")
    for name in table.features:
        assert name.startswith(table.families[name].replace("voice_of_customer", "voc") + "_")
        kind = frame[name].dtype
        assert kind == "float64" or pd.api.types.is_string_dtype(kind), (name, kind)
    assert table.categorical == ["profile_plan", "profile_segment", "profile_region_name"]
    assert "profile_signup_date" not in frame and "profile_churn_date" not in frame


def test_price_features(table):
    # A at 2025-03: current period 03-01 (15); 3 months earlier the latest period before
    # 2025-01-01 is 12-01 (10); nothing starts before 2024-10-01, so no 6-month change
    check(table, "price_amount", {"A": 15.0, "B": 30.0, "C": NAN, "D": 20.0})
    check(table, "price_pct_change_3m", {"A": 0.5, "B": NAN, "C": NAN, "D": NAN})
    check(table, "price_pct_change_6m", {"A": NAN, "B": NAN, "C": NAN})
    # increases on 01-01 (10 -> 12) and 03-01 (12 -> 15); the 04-01 one is at the cutoff
    check(table, "price_increases_6m", {"A": 2.0, "B": 0.0, "C": 0.0, "D": 0.0})
    check(table, "price_months_since_increase", {"A": 1.0, "B": NAN, "C": NAN})
    check(table, "price_discount_share", {"A": 0.0, "B": 10 / 40, "C": NAN, "D": 0.0})
    # A's discount ended with the 2025-01-01 period, exactly 90 days before the cutoff
    check(table, "price_discount_ended_90d", {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})
    # basic plan amounts in March: A 15, D 20 (C has none): median 17.5; pro: B alone
    check(table, "price_amount_vs_plan", {"A": 15 / 17.5, "B": 1.0, "C": NAN, "D": 20 / 17.5})
    # A's 02-01 period is unpaid; D's unknown payment does not count as unpaid
    check(table, "price_unpaid_6m", {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})
    check(table, "price_unpaid_3m", {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})
    # list prices equal the amounts here: the same ratios as above
    check(table, "price_list_vs_plan", {"A": 15 / 17.5, "B": 1.0, "C": NAN, "D": 20 / 17.5})
    # February (cutoff 03-01): A pays 12 (02-01), 3 months earlier (before 12-01): 10
    check(table, "price_amount", {"A": 12.0}, month="2025-02")
    check(table, "price_pct_change_3m", {"A": 0.2}, month="2025-02")
    check(table, "price_months_since_increase", {"A": 2.0}, month="2025-02")


def test_price_unpaid_3m_and_list_price_vs_plan():
    t = tables()
    # D's March list price raised to 25 (still charged 20): list price and amount now differ
    t["billing"].loc[9, "list_price"] = 25.0
    months = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    ft = build_feature_table(dataset_from_frames(t), months)
    # A's only unpaid period starts 2025-02-01. Periods starting in [cutoff - 3 months,
    # cutoff): January [11-01, 02-01) none; February [12-01, 03-01), March [01-01, 04-01) and
    # April [02-01, 05-01) hold it; May [03-01, 06-01) no longer does (the 6-month one still)
    for month, want in zip(months, [0.0, 1.0, 1.0, 1.0, 0.0], strict=True):
        check(ft, "price_unpaid_3m", {"A": want}, month=month)
    check(ft, "price_unpaid_6m", {"A": 1.0}, month="2025-05")
    # D's unknown payment is not unpaid; C has no billing at all
    check(ft, "price_unpaid_3m", {"B": 0.0, "C": 0.0, "D": 0.0})
    # March list prices: basic A 15 and D 25 (median 20), pro B 40 alone; amounts unchanged
    check(ft, "price_list_vs_plan", {"A": 0.75, "B": 1.0, "C": NAN, "D": 1.25})
    check(ft, "price_amount_vs_plan", {"A": 15 / 17.5, "D": 20 / 17.5})
    # April: D has churned, A alone on basic with a current list price (04-01 period) of 20
    check(ft, "price_list_vs_plan", {"A": 1.0}, month="2025-04")


def test_support_features(table):
    check(table, "support_tickets_30d", {"A": 2.0, "B": 0.0, "C": 1.0})
    check(table, "support_tickets_90d", {"A": 3.0, "B": 0.0, "C": 1.0})
    # resolved after the cutoff = still open at the snapshot
    check(table, "support_open_tickets", {"A": 1.0, "B": 0.0, "C": 1.0})
    check(table, "support_median_resolve_hours", {"A": 16.0, "B": NAN, "C": NAN})
    # known ratings: 2, 4 and 5 (the 1 is given after the cutoff)
    check(table, "support_csat_mean", {"A": 11 / 3, "B": NAN, "C": NAN})
    check(table, "support_csat_last", {"A": 2.0, "B": NAN, "C": NAN})
    check(table, "support_escalations_90d", {"A": 1.0, "B": 0.0, "C": 0.0})
    check(table, "support_days_since_ticket", {"A": 2.0, "B": NAN, "C": 1.0})
    # February: only the 02-01 ticket is recent; the 2024 one is in the CSAT history
    check(table, "support_tickets_30d", {"A": 1.0}, month="2025-02")
    check(table, "support_csat_last", {"A": 4.0}, month="2025-02")


def test_onboarding_features(table):
    # 3 steps are known by the cutoff (account, invite, report); 'secret' appears later
    check(table, "onboarding_share_7d", {"A": 1 / 3, "B": 1 / 3, "C": 0.0, "D": 1 / 3})
    check(table, "onboarding_share_14d", {"A": 2 / 3, "B": 1 / 3, "C": 0.0})
    check(table, "onboarding_share_30d", {"A": 2 / 3, "B": 1 / 3, "C": 0.0})
    check(table, "onboarding_share_done", {"A": 1.0, "B": 1 / 3, "C": 0.0})
    check(table, "onboarding_finished", {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0})
    check(table, "onboarding_days_to_finish", {"A": 35.0, "B": NAN, "C": NAN, "D": NAN})


def test_engagement_features(table):
    # A: last 30 days = 03-02 .. 03-31; the 30 before = 01-31 .. 03-01; 90 days from 01-01
    check(table, "engagement_sessions_30d", {"A": 3.0, "B": 0.0, "C": 0.0, "D": 0.0})
    check(table, "engagement_sessions_90d", {"A": 15.0, "B": 0.0, "C": 0.0})
    check(table, "engagement_sessions_trend", {"A": 3 / 4, "B": NAN, "C": NAN})
    check(table, "engagement_minutes_30d", {"A": 15.0})
    check(table, "engagement_minutes_90d", {"A": 16.0})
    check(table, "engagement_minutes_trend", {"A": NAN})  # nothing in the 30 days before
    check(table, "engagement_active_days_30d", {"A": 2.0, "B": 0.0, "C": 0.0})
    # C was last active 2024-11-20: 132 days before 2025-04-01; B never before the cutoff
    check(table, "engagement_days_since_active", {"A": 1.0, "B": NAN, "C": 132.0, "D": NAN})


def test_engagement_lifetime_features(table):
    # A before 2025-04-01: 12-31, 01-01, 03-01, 03-02, 03-31 (5 active days, the 04-01 row
    # is at the cutoff); gaps 1, 59, 1, 29 days: mean 90 / 4, mean square 4324 / 4
    check(table, "engagement_lifetime_active_days", {"A": 5.0, "B": 0.0, "C": 1.0, "D": 0.0})
    # A's first active day 2024-12-31 is 91 days before the cutoff; C's 2024-11-20 132 days
    check(table, "engagement_days_since_first_active", {"A": 91.0, "B": NAN, "C": 132.0})
    check(table, "engagement_mean_gap_days", {"A": 22.5, "B": NAN, "C": NAN, "D": NAN})
    check(table, "engagement_gap_sd_days", {"A": math.sqrt(1081 - 22.5**2), "C": NAN})
    # last active 03-31: 1 day before the cutoff, against a usual gap of 22.5 days
    check(table, "engagement_overdue_ratio", {"A": 1 / 22.5, "C": NAN})
    # the 3 months before the cutoff (01-01 .. 03-31, 90 days) hold 4 of A's 5 active days;
    # C was active once in 132 days, never in the last 90
    check(table, "engagement_active_rate_change", {"A": (4 / 90) / (5 / 91), "B": NAN, "C": 0.0})
    # sessions 100 + 8 + 4 + 1 + 2, of which 15 in the last 3 months; minutes 116, 16 recent
    check(table, "engagement_sessions_lifetime_total", {"A": 115.0, "B": 0.0, "C": 1.0})
    check(table, "engagement_sessions_per_active_day", {"A": 23.0, "B": NAN, "C": 1.0})
    want = {"A": (15 / 90) / (115 / 91), "B": NAN, "C": 0.0}
    check(table, "engagement_sessions_recent_vs_lifetime", want)
    check(table, "engagement_minutes_lifetime_total", {"A": 116.0})
    check(table, "engagement_minutes_per_active_day", {"A": 23.2})
    check(table, "engagement_minutes_recent_vs_lifetime", {"A": (16 / 90) / (116 / 91)})
    # February (cutoff 03-01): A has 12-31 and 01-01, 60 and 59 days before; one gap of 1 day,
    # so no spread yet; the whole 60-day life lies in the 3 months before the cutoff
    check(table, "engagement_lifetime_active_days", {"A": 2.0}, month="2025-02")
    check(table, "engagement_days_since_first_active", {"A": 60.0}, month="2025-02")
    check(table, "engagement_mean_gap_days", {"A": 1.0}, month="2025-02")
    check(table, "engagement_gap_sd_days", {"A": NAN}, month="2025-02")
    check(table, "engagement_overdue_ratio", {"A": 59.0}, month="2025-02")
    check(table, "engagement_active_rate_change", {"A": 1.0}, month="2025-02")
    check(table, "engagement_sessions_recent_vs_lifetime", {"A": 1.0}, month="2025-02")


def test_engagement_with_snapshot_months_far_apart():
    # 2024-09 (cutoff 2024-10-01) and 2025-04 (cutoff 2025-05-01): no window covers
    # 2024-10-01 .. 2025-01-30, and an active day deep in that stretch (80 days after its
    # start) must still count, as the same days do when every month is built
    t = tables()
    t["usage"] = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A"],
            "date": ["2024-09-20", "2024-12-20", "2024-12-21"],
            "sessions": [1.0, 2.0, 4.0],
        }
    )
    ds = dataset_from_frames(t)
    picked = ["2024-09", "2025-04"]
    ft = build_feature_table(ds, picked)
    # 2024-09: one active day, 11 days before the cutoff
    check(ft, "engagement_active_days_30d", {"A": 1.0}, month="2024-09")
    check(ft, "engagement_days_since_active", {"A": 11.0}, month="2024-09")
    # 2025-04: last active 2024-12-21, 11 + 31 + 28 + 31 + 30 = 131 days before 2025-05-01
    check(ft, "engagement_active_days_30d", {"A": 0.0}, month="2025-04")
    check(ft, "engagement_sessions_90d", {"A": 0.0}, month="2025-04")
    check(ft, "engagement_days_since_active", {"A": 131.0}, month="2025-04")
    check(ft, "engagement_lifetime_active_days", {"A": 3.0}, month="2025-04")
    check(ft, "engagement_sessions_lifetime_total", {"A": 7.0}, month="2025-04")
    every = build_feature_table(ds, month_range("2024-09", "2025-04")).at(picked)
    every_rows = every.frame.reset_index(drop=True)
    pd.testing.assert_frame_equal(ft.frame.reset_index(drop=True), every_rows, check_exact=True)


def test_engagement_lifetime_days_rows_and_sparse_snapshots():
    t = tables()
    usage = pd.DataFrame(
        {
            "customer_id": ["A"] * 7,
            "date": [
                "2024-11-03T08:00:00",
                "2024-11-03T20:00:00",  # a second row on the same day: one active day
                "2024-11-13",
                "2025-01-12",
                "2025-02-28T23:59:00",
                "2025-03-01",
                "2025-06-01",
            ],
            "sessions": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        }
    )
    t["usage"] = usage
    # two snapshots far apart: 2024-12 (cutoff 2025-01-01) and 2025-04 (cutoff 2025-05-01)
    ft = build_feature_table(dataset_from_frames(t), ["2024-12", "2025-04"])
    # 2024-12: days 11-03 (1 + 2 sessions) and 11-13, 59 and 49 days before the cutoff
    check(ft, "engagement_lifetime_active_days", {"A": 2.0}, month="2024-12")
    check(ft, "engagement_sessions_lifetime_total", {"A": 7.0}, month="2024-12")
    check(ft, "engagement_sessions_per_active_day", {"A": 3.5}, month="2024-12")
    check(ft, "engagement_days_since_first_active", {"A": 59.0}, month="2024-12")
    check(ft, "engagement_overdue_ratio", {"A": 49 / 10}, month="2024-12")
    # 2025-04: days 11-03, 11-13, 01-12, 02-28, 03-01 (the 06-01 row is after the cutoff);
    # gaps 10, 60, 47, 1: mean 118 / 4 = 29.5, mean square (100 + 3600 + 2209 + 1) / 4
    check(ft, "engagement_lifetime_active_days", {"A": 5.0}, month="2025-04")
    check(ft, "engagement_sessions_lifetime_total", {"A": 63.0}, month="2025-04")
    check(ft, "engagement_mean_gap_days", {"A": 29.5}, month="2025-04")
    sd = math.sqrt(5910 / 4 - 29.5**2)
    check(ft, "engagement_gap_sd_days", {"A": sd}, month="2025-04")
    # last active 03-01, 61 days before 05-01; first 11-03, 179 days before
    check(ft, "engagement_overdue_ratio", {"A": 61 / 29.5}, month="2025-04")
    # the 3 months before the cutoff (02-01 .. 04-30, 89 days): 02-28 and 03-01, 48 sessions
    want = (2 / 89) / (5 / 179)
    check(ft, "engagement_active_rate_change", {"A": want}, month="2025-04")
    want = (48 / 89) / (63 / 179)
    check(ft, "engagement_sessions_recent_vs_lifetime", {"A": want}, month="2025-04")


def test_gaps_inside_a_month_across_its_halves_and_edges():
    # the lifetime gaps come from each month's mask of active days (day 1 = bit 0): days at
    # the month's edges and on both sides of its halves (bits 15 and 16: the 16th and 17th)
    t = tables()
    days = ["2025-01-01", "2025-01-16", "2025-01-17", "2025-01-31", "2025-02-03", "2025-03-16"]
    t["usage"] = pd.DataFrame({"customer_id": ["A"] * len(days), "date": days, "sessions": 1.0})
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    # gaps 15, 1, 14, 3, 41: sum 74 (01-01 .. 03-16), sum of squares 225+1+196+9+1681 = 2112
    check(ft, "engagement_lifetime_active_days", {"A": 6.0})
    check(ft, "engagement_mean_gap_days", {"A": 74 / 5})
    check(ft, "engagement_gap_sd_days", {"A": math.sqrt(2112 / 5 - (74 / 5) ** 2)})


def test_mask_gaps_table_matches_the_gaps_of_every_half_mask():
    from churnlab.features.sql.lifetime import HALF_BITS, mask_gaps_frame

    table = mask_gaps_frame()
    assert len(table) == 1 << HALF_BITS and table["h"].tolist() == list(range(1 << HALF_BITS))
    for h in [0, 1, 2, 5, 0b1000000000000001, 0b0110100100000011, (1 << HALF_BITS) - 1]:
        bits = [b for b in range(HALF_BITS) if h >> b & 1]
        row = table.iloc[h]
        assert row["inner2"] == sum(
            (b - a) ** 2 for a, b in zip(bits[:-1], bits[1:], strict=True)
        ), h
        assert (pd.isna(row["low"]), pd.isna(row["high"])) == (not bits, not bits)
        if bits:
            assert (row["low"], row["high"]) == (bits[0], bits[-1])


def test_voice_of_customer_features(table):
    check(table, "voc_last_score", {"A": 5.0, "B": NAN, "C": 7.0})
    check(table, "voc_detractor", {"A": 1.0, "B": NAN, "C": 0.0})
    check(table, "voc_days_since_answer", {"A": 17.0, "B": NAN, "C": 59.0})
    check(table, "voc_answers", {"A": 2.0, "B": 0.0, "C": 1.0})
    check(table, "voc_mean_score", {"A": 7.0, "B": NAN, "C": 7.0})


def test_profile_features(table):
    # A: 2024-09-15 -> 2025-04-01 is 198 days; B signed up the day before the cutoff
    check(table, "profile_tenure_months", {"A": 198 / 30.4375, "B": 1 / 30.4375})
    assert value(table, "B", "profile_plan") == "pro"
    assert value(table, "B", "profile_segment") == "ent"
    assert value(table, "D", "profile_region_name") == "east"
    check(table, "profile_seats", {"A": 3.0, "B": 50.0})


def test_absent_tables_turn_their_family_off():
    only = {k: v for k, v in tables().items() if k in ("customers", "tickets")}
    only["customers"] = only["customers"].drop(columns=["segment"])
    ft = build_feature_table(dataset_from_frames(only), ["2025-03"])
    assert set(ft.families.values()) == {"support", "profile"}
    assert ft.value_col is None and ft.segment_col is None
    assert value(ft, "A", "support_tickets_30d") == 2.0


def test_optional_columns_turn_single_features_off():
    t = tables()
    t["billing"] = t["billing"][["customer_id", "period_start", "amount"]]
    t["tickets"] = t["tickets"][["customer_id", "opened_at"]]
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    price = [f for f, fam in ft.families.items() if fam == "price"]
    assert price == [
        "price_amount",
        "price_pct_change_3m",
        "price_pct_change_6m",
        "price_increases_6m",
        "price_months_since_increase",
        "price_amount_vs_plan",
    ]
    support = [f for f, fam in ft.families.items() if fam == "support"]
    assert support == [
        "support_tickets_30d",
        "support_tickets_90d",
        "support_days_since_ticket",
    ]


def test_inactivity_churn_feature_table():
    ft = build_feature_table(
        dataset_from_frames(tables()), ["2025-03"], ChurnDefinition(churn="inactivity")
    )
    # active in [03-02, 04-01): only A; its row on 04-01 (the cutoff day itself) is in the
    # label window [04-01, 05-01), so A stayed
    assert ft.frame["customer_id"].tolist() == ["A"]
    assert ft.frame["churned"].tolist() == [0]
    assert value(ft, "A", "engagement_sessions_30d") == 3.0
    assert ft.definition.churn == "inactivity"


def test_registry_covers_every_feature_with_its_family(table):
    from churnlab.features.registry import feature_spec, reason_text

    for name, family in table.families.items():
        spec = feature_spec(name)
        assert spec.family == family, name
        assert spec.description and spec.unit
        # every template formats every value the feature takes, missing ones included
        for v in table.frame[name].unique().tolist():
            assert isinstance(reason_text(name, v), str)


@pytest.mark.parametrize(
    ("name", "val", "text"),
    [
        ("support_open_tickets", 3.0, "3 support ticket(s) still open"),
        ("price_pct_change_3m", 0.125, "price changed +12% in 3 months"),
        ("price_pct_change_3m", NAN, "pct change 3m unknown"),
        ("support_days_since_ticket", None, "days since ticket: no ticket"),
        ("profile_plan", "basic", "plan is 'basic'"),
        ("profile_seats", 50.0, "seats = 50"),
        ("engagement_sessions_30d", 1234.0, "1,234 sessions in the last 30 days"),
        ("engagement_page_views_trend", 0.5, "page views at 50% of the previous 30 days"),
        ("voc_detractor", 1.0, "a detractor in the latest NPS survey"),
        ("voc_detractor", False, "not a detractor in the latest NPS survey"),
        ("onboarding_finished", 0, "onboarding not finished"),
        (
            "engagement_overdue_ratio",
            3.0,
            "away 3.0x longer than their usual gap between active days",
        ),
        ("engagement_mean_gap_days", 21.0, "usually active every 21 day(s)"),
        ("engagement_active_rate_change", 0.25, "active at 25% of their lifetime rate lately"),
        ("engagement_orders_recent_vs_lifetime", 2.0, "orders at 200% of the lifetime rate lately"),
        ("engagement_mean_gap_days", None, "mean gap days: fewer than 2 active days"),
        ("my_own_column", 2.5, "my_own_column = 2.5"),
        ("my_own_column", "gold", "my_own_column is 'gold'"),
        ("my_own_column", pd.NA, "my_own_column unknown"),
    ],
)
def test_reason_text(name, val, text):
    from churnlab.features.registry import reason_text

    assert reason_text(name, val) == text


def test_feature_spec_patterns_and_generic_entries():
    from churnlab.features.registry import feature_spec

    spec = feature_spec("engagement_page_views_90d")
    assert (spec.family, spec.unit) == ("engagement", "page views")
    assert feature_spec("engagement_active_days_30d").unit == "days"
    assert feature_spec("profile_region_name").family == "profile"
    other = feature_spec("services_count")
    assert (other.family, other.template) == ("other", "{feature} = {value}")


def test_attribute_names_that_clash_with_internal_columns():
    t = {"customers": tables()["customers"].assign(sid=["x", "y", "z", "w"], cutoff=1.0)}
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    assert value(ft, "B", "profile_sid") == "y"
    assert value(ft, "B", "profile_cutoff") == 1.0
    assert value(ft, "B", "profile_plan") == "pro"


def test_features_equal_on_the_data_as_known_at_the_cutoff(table):
    # docs/definitions.md: a snapshot must come out the same without anything dated at/after its cutoff
    ds = dataset_from_frames(tables())
    known = build_feature_table(ds.as_of(pd.Timestamp("2025-04-01")), ["2025-03"])
    full = table.at("2025-03").frame
    cols = ["customer_id", "snapshot", *table.features]
    pd.testing.assert_frame_equal(known.frame[cols], full[cols])
    assert known.frame["churned"].isna().all()  # the future is unknown there


def test_same_data_gives_identical_features_on_any_thread_count(monkeypatch):
    """Parallel float sums depend on the order threads add rows; the features must not."""
    from pathlib import Path

    from churnlab.contract import read_dataset
    from churnlab.features import build, snapshots

    demo = read_dataset(Path(__file__).resolve().parent.parent / "data" / "demo")
    months = ["2026-08", "2026-09", "2026-10"]
    frames = []
    for threads in (1, 2, 1, 2):

        def engine(*args, _threads=threads, **kwargs):
            con = snapshots.open_engine(*args, **kwargs)
            con.execute(f"SET threads = {_threads}")
            return con

        monkeypatch.setattr(build, "open_engine", engine)
        frames.append(build_feature_table(demo, months=months).frame)
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other, check_exact=True)


def test_lifetime_names_stay_apart_from_usage_columns_named_like_them():
    from churnlab.features.registry import feature_spec

    t = tables()
    cols = ["lifetime active days", "overdue_ratio", "mean gap days"]
    t["usage"] = t["usage"].assign(**{c: t["usage"]["sessions"] for c in cols})
    ft = build_feature_table(dataset_from_frames(t), ["2025-03"])
    names = list(ft.families)
    assert len(names) == len(set(names))
    # the customer's own overdue ratio is still the fixed feature, beside the column's total
    check(ft, "engagement_overdue_ratio", {"A": 1 / 22.5})
    check(ft, "engagement_overdue_ratio_lifetime_total", {"A": 115.0})
    check(ft, "engagement_lifetime_active_days", {"A": 5.0})
    check(ft, "engagement_lifetime_active_days_per_active_day", {"A": 23.0})
    spec = feature_spec("engagement_mean_gap_days_recent_vs_lifetime")
    assert (spec.family, spec.unit) == ("engagement", "ratio")
    assert spec.description.startswith("mean gap days per day in the 3 months")
    assert feature_spec("engagement_sessions_lifetime_total").unit == "sessions"
