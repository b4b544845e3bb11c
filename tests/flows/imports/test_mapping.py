"""The mapping file: field specs, matchers, slugs, and one-line errors for every mistake."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flows.imports import MappingError, load_mapping, parse_mapping
from flows.imports.mapping import FieldSpec, Matcher, slug

REPO = Path(__file__).resolve().parents[3]
MAPPINGS = REPO / "sample_streams" / "mappings"

MINIMAL: dict = {
    "name": "mini",
    "source_system": "X",
    "case": {"column": "id"},
    "time": {"column": "t"},
    "opened": {
        "fields": {
            "category": "c",
            "severity": "low",
            "site": "s",
            "origin": "o",
            "destination": "d",
            "customer_tier": "standard",
            "order_value": 1,
            "currency": "USD",
        }
    },
}


def with_(path: str, value: object) -> dict:
    """MINIMAL with one key set (``a.b.c``)."""
    data = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Awaiting User Info", "awaiting_user_info"),
        ("Wait - User", "wait_user"),
        ("code 6", "code_6"),
        ("-100", "100"),
        ("Won't Fix", "won't_fix"),
        ("already_snake", "already_snake"),
        (" - ", ""),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_field_spec_semantics() -> None:
    cells = {"p": "2 - High", "s": "Awaiting User Info", "e": "odd"}
    assert FieldSpec(value="USD").get(cells) == "USD"
    assert FieldSpec(column="p").get(cells) == "2 - High"
    assert FieldSpec(column="absent").get(cells) is None
    assert FieldSpec(column="absent", default="x").get(cells) == "x"
    mapped = FieldSpec(column="p", map={"2 - High": "high"}, default="medium")
    assert mapped.get(cells) == "high"
    assert mapped.get({"p": "9 - Weird"}) == "medium"  # not in the map: the default
    assert FieldSpec(column="e", map={"x": "y"}).get(cells) == "odd"  # no default: kept
    assert FieldSpec(column="s", slug=True).get(cells) == "awaiting_user_info"
    assert FieldSpec(column="e", map={"x": "y"}, slug=True).get({"e": "Odd One"}) == "odd_one"
    # map outputs and defaults are taken as written, never slugged
    assert FieldSpec(column="p", map={"2 - High": "Hi There"}, slug=True).get(cells) == "Hi There"
    assert FieldSpec(column="e", slug=True, default="D E").get({"e": "--"}) == "D E"


def test_matchers() -> None:
    assert Matcher(equals="a").test("a") and not Matcher(equals="a").test("ab")
    assert Matcher.model_validate({"in": ["a", "b"]}).test("b")
    assert Matcher(prefix="Wait").test("Wait - User") and not Matcher(prefix="Wait").test("Await")
    assert Matcher(contains="3rd").test("V13 2nd 3rd")
    assert Matcher(missing=True).test(None) and not Matcher(missing=True).test("x")
    assert Matcher(missing=False).test("x")
    assert not Matcher(equals="a").test(None)  # a missing cell matches only missing = true


def test_the_shipped_mappings_load() -> None:
    sn = load_mapping(MAPPINGS / "servicenow_uci.toml")
    bp = load_mapping(MAPPINGS / "bpic2013.toml")
    assert (sn.name, bp.name) == ("servicenow_uci", "bpic2013")
    assert not sn.needs_last and bp.needs_last
    assert sn.missing_values == {"?", ""}


def test_minimal_mapping_and_builtin_defaults() -> None:
    m = parse_mapping(MINIMAL)
    assert m.touched is None and m.phases is None
    assert m.event_fields("resolved")["resolution_code"].value == "resolved"
    assert m.event_fields("paused")["reason"].value == "paused"
    assert m.event_fields("touched")["action"].value == "update"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_("opened.fields.colour", "red"), "[opened.fields]: unknown field(s) colour"),
        (with_("touched", {"fields": {"level": 2}}), "[touched.fields]: unknown field(s) level"),
        (with_("case.columns", "x"), "case.columns: unknown key"),
        (with_("opened.fields.severity", "urgent"), "'urgent' is not one of low"),
        (
            with_("opened.fields.customer_tier", {"column": "t", "map": {"A": "gold"}}),
            "'gold' is not one of strategic",
        ),
        (with_("time.timezone", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (
            with_("opened.fields.site", {"column": "a", "value": "b"}),
            "give exactly one of `column` or `value`",
        ),
        (with_("opened.fields.site", {"value": "b", "slug": True}), "only go with `column`"),
        (
            with_(
                "phases",
                {"rules": [{"when": {"s": {"prefix": "a", "equals": "b"}}, "phase": "open"}]},
            ),
            "give exactly one of `equals`",
        ),
        (with_("phases", {"rules": [{"phase": "closed"}]}), "phases.rules[0].phase"),
        (with_("name", "has space"), "name: String should match pattern"),
        (with_("escalated", {"column": "g", "levels": [{"contains": "x", "level": 0}]}), "level"),
    ],
)
def test_mistakes_are_one_line_errors_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_mapping(data, "m.toml")
    text = str(err.value)
    assert text.startswith("mapping m.toml: ")
    assert message in text
    assert "\n" not in text


def test_missing_opened_fields_are_listed() -> None:
    data = copy.deepcopy(MINIMAL)
    del data["opened"]["fields"]["currency"], data["opened"]["fields"]["site"]
    with pytest.raises(MappingError, match=r"\[opened.fields\] must fill currency, site"):
        parse_mapping(data)


def test_load_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(bad)
