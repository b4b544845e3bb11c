"""KPI targets (``metrics.targets``): status bands in both directions and at their
boundaries, overrides by site and customer tier, every bad configuration as a
one-line error naming its key, the shipped defaults, and KPI frames with status."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.config import builtin_settings, load_settings
from core.db import open_read
from metrics.catalog import BY_NAME, CATALOG
from metrics.query import Window, kpis
from metrics.targets import (
    STATUS_COLUMNS,
    Target,
    Targets,
    load_targets,
    parse_targets,
    with_status,
)
from tests.dashboard.scenario import sample_db

UP = Target("sla_adherence", 0.90, 0.85, "up")
DOWN = Target("mttr_hours", 12.0, 16.0, "down")


# --- status bands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1.0, "on_target"),
        (0.90, "on_target"),  # exactly at the goal
        (0.8999999999999999, "on_target"),  # float noise of 9/10 computed in SQL
        (0.8999, "at_risk"),
        (0.85, "at_risk"),  # exactly at the warning
        (0.8499, "off_target"),
        (0.0, "off_target"),
    ],
)
def test_status_where_higher_is_better(value: float, status: str) -> None:
    assert UP.status(value) == status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.0, "on_target"),
        (12.0, "on_target"),
        (12.01, "at_risk"),
        (16.0, "at_risk"),
        (16.01, "off_target"),
        (1000.0, "off_target"),
    ],
)
def test_status_where_lower_is_better(value: float, status: str) -> None:
    assert DOWN.status(value) == status


def test_without_a_warning_there_is_no_at_risk_band() -> None:
    up = Target("otif", 0.95, None, "up")
    assert [up.status(v) for v in (0.95, 0.9499, 0.0)] == ["on_target", "off_target", "off_target"]
    down = Target("breached_open", 10, None, "down")
    assert [down.status(v) for v in (10, 11, 0)] == ["on_target", "off_target", "on_target"]


def test_no_value_has_no_status() -> None:
    assert UP.status(None) is None
    assert UP.status(math.nan) is None
    assert DOWN.status(None) is None


def test_integer_values_are_compared_as_numbers() -> None:
    count = Target("breached_open", 10, 25, "down")
    assert (count.status(10), count.status(11), count.status(25), count.status(26)) == (
        "on_target",
        "at_risk",
        "at_risk",
        "off_target",
    )


# --- overrides -------------------------------------------------------------------------


def _targets(raw: dict[str, Any]) -> Targets:
    return parse_targets(raw)


RAW = {
    "sla_adherence": {
        "goal": 0.90,
        "warning": 0.85,
        "site": {"DC-ATL": {"goal": 0.95, "warning": 0.92}, "DC-DAL": {"goal": 0.8}},
        "customer_tier": {"strategic": {"goal": 0.97}},
    },
    "mttr_hours": {"goal": 12, "warning": 16},
}


def test_the_most_specific_target_wins() -> None:
    t = _targets(RAW)
    own = t.for_kpi("sla_adherence")
    assert own == Target("sla_adherence", 0.9, 0.85, "up")
    assert t.for_kpi("sla_adherence", site="DC-ATL") == Target(
        "sla_adherence", 0.95, 0.92, "up", site="DC-ATL"
    )
    assert t.for_kpi("sla_adherence", customer_tier="strategic") == Target(
        "sla_adherence", 0.97, None, "up", customer_tier="strategic"
    )
    # a site beats a tier; an unknown site or tier falls back to the KPI's own target
    assert t.for_kpi("sla_adherence", site="DC-ATL", customer_tier="strategic") is not None
    assert t.for_kpi("sla_adherence", site="DC-ATL", customer_tier="strategic").site == "DC-ATL"
    assert t.for_kpi("sla_adherence", site="DC-XYZ", customer_tier="strategic").customer_tier == (
        "strategic"
    )
    assert t.for_kpi("sla_adherence", site="DC-XYZ") == own
    assert t.for_kpi("mttr_hours", site="DC-ATL") == Target("mttr_hours", 12, 16, "down")
    assert t.for_kpi("otif") is None


def test_an_override_does_not_inherit_the_warning() -> None:
    dal = _targets(RAW).for_kpi("sla_adherence", site="DC-DAL")
    assert dal is not None and dal.warning is None
    assert dal.status(0.79) == "off_target"  # no at-risk band of its own


def test_overrides_without_a_target_of_the_kpi_itself() -> None:
    t = _targets({"otif": {"site": {"DC-ATL": {"goal": 0.9}}}})
    assert t.for_kpi("otif") is None
    assert t.for_kpi("otif", site="DC-ATL") == Target("otif", 0.9, None, "up", site="DC-ATL")


def test_for_group_and_for_filters() -> None:
    t = _targets(RAW)
    assert t.for_group("sla_adherence", "site", "DC-ATL").goal == 0.95
    assert t.for_group("sla_adherence", "customer_tier", "strategic").goal == 0.97
    assert t.for_group("sla_adherence", "carrier", "DC-ATL").goal == 0.9
    assert t.for_group("sla_adherence", None, None).goal == 0.9
    assert t.for_filters("sla_adherence", {"site": ["DC-ATL"]}).goal == 0.95
    both = {"site": ["DC-ATL", "DC-DAL"]}
    assert t.for_filters("sla_adherence", both).goal == 0.9
    assert t.for_filters("sla_adherence", None).goal == 0.9


def test_all_lists_every_target_in_catalog_order() -> None:
    t = _targets(RAW)
    got = [(x.kpi, x.scope, x.scope_value) for x in t.all()]
    assert got == [
        ("sla_adherence", "kpi", None),
        ("sla_adherence", "site", "DC-ATL"),
        ("sla_adherence", "site", "DC-DAL"),
        ("sla_adherence", "customer_tier", "strategic"),
        ("mttr_hours", "kpi", None),
    ]
    assert t.kpis() == ("sla_adherence", "mttr_hours")
    assert len(t) == 5
    assert len(Targets()) == 0 and Targets().all() == ()


def test_targetable_is_every_kpi_with_a_direction() -> None:
    assert {k.name for k in CATALOG if k.targetable} == {
        k.name for k in CATALOG if k.good != "neutral"
    }
    assert BY_NAME["sla_adherence"].targetable and not BY_NAME["opened"].targetable


# --- bad configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"sla_adherance": {"goal": 0.9}},
            "bad configuration at targets.sla_adherance: unknown KPI 'sla_adherance'; "
            "use one of: open_exceptions,",
        ),
        (
            {"opened": {"goal": 10}},
            "bad configuration at targets.opened: KPI 'opened' has no good direction "
            "(neutral), so it has no target",
        ),
        (
            {"sla_adherence": {"goal": "high"}},
            "bad configuration at targets.sla_adherence.goal: must be a number, got 'high'",
        ),
        (
            {"sla_adherence": {"goal": True}},
            "bad configuration at targets.sla_adherence.goal: must be a number, got True",
        ),
        (
            {"mttr_hours": {"goal": math.inf}},
            "bad configuration at targets.mttr_hours.goal: must be a finite number, got inf",
        ),
        (
            {"mttr_hours": {"goal": -1}},
            "bad configuration at targets.mttr_hours.goal: must not be negative, got -1",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "warning": 0.95}},
            "bad configuration at targets.sla_adherence.warning: must be below the goal "
            "for a KPI where higher is better",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "warning": 0.9}},
            "bad configuration at targets.sla_adherence.warning: must be below the goal "
            "for a KPI where higher is better",
        ),
        (
            {"mttr_hours": {"goal": 12, "warning": 8}},
            "bad configuration at targets.mttr_hours.warning: must be above the goal "
            "for a KPI where lower is better",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "gaol": 0.8}},
            "bad configuration at targets.sla_adherence.gaol: unknown key; use goal, "
            "warning, site, customer_tier",
        ),
        (
            {"sla_adherence": {"goal": 90}},
            "bad configuration at targets.sla_adherence.goal: a share is a fraction between "
            "0 and 1 (e.g. 0.9 for 90 %), got 90",
        ),
        (
            {"otif": {"goal": 0.95, "warning": 1.5}},
            "bad configuration at targets.otif.warning: a share is a fraction between 0 and 1",
        ),
        (
            {"sla_adherence": 0.9},
            "bad configuration at targets.sla_adherence: must be a table",
        ),
        (
            {"sla_adherence": {"warning": 0.8}},
            "bad configuration at targets.sla_adherence.goal: missing",
        ),
        (
            {"sla_adherence": {}},
            "bad configuration at targets.sla_adherence.goal: missing",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "site": {"DC-ATL": {"warning": 0.8}}}},
            "bad configuration at targets.sla_adherence.site.DC-ATL.goal: missing",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "site": {"DC-ATL": {"goal": 0.95, "warning": 0.97}}}},
            "bad configuration at targets.sla_adherence.site.DC-ATL.warning: must be below",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "site": {"DC-ATL": {"goal": 0.9, "site": {}}}}},
            "bad configuration at targets.sla_adherence.site.DC-ATL.site: unknown key; "
            "use goal, warning",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "customer_tier": {"gold": {"goal": 0.95}}}},
            "bad configuration at targets.sla_adherence.customer_tier.gold: unknown customer "
            "tier; use one of: strategic, key, standard",
        ),
        (
            {"sla_adherence": {"goal": 0.9, "site": 0.95}},
            "bad configuration at targets.sla_adherence.site: must be a table",
        ),
        (
            {"duplicate_events": {"goal": 0, "site": {"DC-ATL": {"goal": 0}}}},
            "bad configuration at targets.duplicate_events.site: KPI 'duplicate_events' "
            "cannot be broken down by site",
        ),
    ],
)
def test_every_bad_configuration_is_one_line_naming_the_key(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as err:
        parse_targets(raw)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fpi.toml"
    path.write_text(text)
    return path


def test_load_targets_from_a_settings_file(tmp_path: Path) -> None:
    settings = load_settings(
        _config(
            tmp_path,
            """
[targets.sla_adherence]
goal = 0.92
[targets.sla_adherence.site.DC-ATL]
goal = 0.95
warning = 0.90
[targets.breached_open]
goal = 10
warning = 25
""",
        )
    )
    t = load_targets(settings)
    # the file merges into the defaults key by key: sla_adherence keeps warning 0.85
    assert t.for_kpi("sla_adherence") == Target("sla_adherence", 0.92, 0.85, "up")
    assert t.for_kpi("sla_adherence", site="DC-ATL") == Target(
        "sla_adherence", 0.95, 0.90, "up", site="DC-ATL"
    )
    assert t.for_kpi("breached_open") == Target("breached_open", 10, 25, "down")
    assert t.for_kpi("otif") == Target("otif", 0.95, 0.90, "up")  # a default


def test_a_goal_below_the_default_warning_says_where_the_warning_came_from(
    tmp_path: Path,
) -> None:
    settings = load_settings(_config(tmp_path, "[targets.sla_adherence]\ngoal = 0.80\n"))
    with pytest.raises(ValueError) as err:
        load_targets(settings)
    assert str(err.value) == (
        "bad configuration at targets.sla_adherence.warning: must be below the goal for a "
        "KPI where higher is better (warning 0.85 is the shipped default; set a warning next "
        "to your goal)"
    )


def test_a_bad_target_in_a_file_is_an_error(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, "[targets.mttr_hours]\ngoal = 'fast'\n"))
    with pytest.raises(ValueError, match=r"^bad configuration at targets\.mttr_hours\.goal: "):
        load_targets(settings)


def test_the_shipped_defaults() -> None:
    t = load_targets(builtin_settings())
    assert t.all() == (
        Target("sla_adherence", 0.90, 0.85, "up"),
        Target("mttr_hours", 12.0, 16.0, "down"),
        Target("otif", 0.95, 0.90, "up"),
    )


# --- KPI frames with status --------------------------------------------------------------


def test_with_status_of_the_headline_frame(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        df = kpis(con, sample_win.as_of, sample_win.start)
    t = _targets(RAW)
    long = with_status(df, t)
    assert long.columns == list(STATUS_COLUMNS)
    assert long["kpi"].to_list() == [k.name for k in CATALOG if k.targetable]
    row = long.filter(pl.col("kpi") == "sla_adherence").row(0, named=True)
    value = float(df["sla_adherence"][0])
    assert row["value"] == pytest.approx(value)
    assert (row["goal"], row["warning"], row["direction"], row["scope"]) == (
        0.9,
        0.85,
        "up",
        "kpi",
    )
    assert row["status"] == UP.status(value)
    none = long.filter(pl.col("kpi") == "open_exceptions").row(0, named=True)
    assert none["goal"] is None and none["status"] is None and none["value"] is not None
    only = with_status(df, t, only_targeted=True)
    assert only["kpi"].to_list() == ["sla_adherence", "mttr_hours"]


def test_with_status_by_site_applies_the_site_overrides(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        df = kpis(con, sample_win.as_of, sample_win.start, by="site")
    long = with_status(df, _targets(RAW), by="site", kpis=["sla_adherence"])
    assert long.columns == ["site", *STATUS_COLUMNS]
    assert long["site"].to_list() == df["site"].to_list()
    goals = dict(zip(long["site"].to_list(), long["goal"].to_list(), strict=True))
    assert goals["DC-ATL"] == 0.95 and goals["DC-DAL"] == 0.8
    assert {g for s, g in goals.items() if s not in ("DC-ATL", "DC-DAL")} == {0.9}
    for r in long.iter_rows(named=True):
        target = _targets(RAW).for_kpi("sla_adherence", site=r["site"])
        assert target is not None and r["status"] == target.status(r["value"])


def test_with_status_edge_cases() -> None:
    t = _targets(RAW)
    empty = with_status(pl.DataFrame(), t)
    assert empty.height == 0 and empty.columns == list(STATUS_COLUMNS)
    df = pl.DataFrame({"sla_adherence": [None], "mttr_hours": [20.0]})
    long = with_status(df, t)
    assert long["status"].to_list() == [None, "off_target"]
    with pytest.raises(ValueError, match="not a column"):
        with_status(df, t, kpis=["otif"])
    with pytest.raises(ValueError, match="no group column"):
        with_status(df, t, by="site")
