"""Hardening of the dashboard (issue items 8–12), through ``AppTest`` and the launcher:

* 8 — ``fpi dashboard`` listens on 127.0.0.1 unless ``--address`` says otherwise;
  with ``[auth]`` in the secrets only a logged-in visitor sees data;
* 9 — values from the URL and from the data are shown as text (code spans in
  Markdown, escaped text in Plotly), never as links, emphasis or HTML;
* 10 — garbage in any URL parameter gives a friendly message; an unexpected
  error gives one line (the traceback goes to the log); no Streamlit exception;
* 11 — CSV downloads neutralise text cells that start a formula;
* 12 — ``data.reader`` outside a script run, accepted events counted once, and
  ``fpi --config`` reaching the app.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import __main__ as dashboard_main
from dashboard import context, data, launch, ui
from dashboard.context import Filters, app_settings, parse_filters, resolve_window
from dashboard.text import md_literal, plot_text, unplot_text
from fpi import cli
from tests.dashboard.conftest import Runner
from tests.dashboard.helpers import PAGES, chart_titled, charts, metrics, texts
from tests.dashboard.scenario import EVIL, HOSTILE, hand_db, hostile_db, sample_db

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _markdown_sources(at: AppTest) -> list[str]:
    """Everything on the page that Streamlit renders as Markdown."""
    parts = texts(at).split("\n")
    parts += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    parts += [str(e.label) for e in at.expander]
    return parts


def _outside_code(md: str) -> str:
    return _CODE_SPAN.sub("", md)


def _assert_literal_only(at: AppTest, *values: str) -> None:
    """No planted link, HTML or emphasis outside a code span; Plotly gets escaped text."""
    for md in _markdown_sources(at):
        bare = _outside_code(md)
        assert EVIL not in bare, f"a value from the URL or the data is Markdown: {md!r}"
        for v in values:
            assert v not in bare, f"{v!r} rendered as Markdown in {md!r}"
    for fig in charts(at):
        text = json.dumps(fig["data"]) + json.dumps(fig["layout"].get("title", {}))
        for tag in ("<a", "<script"):
            assert tag not in text, f"Plotly would render {tag!r} as HTML"


# --- 9: values as text -----------------------------------------------------------------


def test_md_literal_is_a_code_span_of_exactly_the_text() -> None:
    assert md_literal("DC-ATL") == "`DC-ATL`"
    assert md_literal("[x](https://e.x)") == "`[x](https://e.x)`"
    assert md_literal("a`b") == "``a`b``"
    assert md_literal("`x") == "`` `x ``"
    assert md_literal(" x ") == "`  x  `"
    assert md_literal("a\n\nb") == "`a  b`"  # a blank line would end the paragraph
    assert md_literal("") == '""'
    assert md_literal("x" * 300).endswith("…`") and len(md_literal("x" * 300)) == 202


def test_plot_text_round_trips() -> None:
    for v in ("<a href='x'>y</a>", "&amp;", "&lt;", "a & b > c", "plain"):
        assert "<" not in plot_text(v) and unplot_text(plot_text(v)) == v


@pytest.mark.parametrize("page", list(PAGES))
def test_url_values_are_shown_as_text_on_every_page(run_page: Runner, page: str) -> None:
    link = "[clickme](https://evil.example)"
    at = run_page(
        hand_db(),
        page,
        site=link,
        exception="X-[a](https://evil.example)",
        as_of="[when](https://evil.example)",
    )
    assert not at.exception
    _assert_literal_only(at)
    if page != "quality":  # the filters do not apply there
        assert f"site = `{link}`" in texts(at)


@pytest.mark.parametrize("page", list(PAGES))
def test_names_from_the_data_are_shown_as_text_on_every_page(run_page: Runner, page: str) -> None:
    at = run_page(hostile_db(), page, as_of="2026-05-05T12:00:00Z")
    _ok(at)
    _assert_literal_only(at, "**bold**")
    assert charts(at) or page in ("aging", "alerts")


def test_queue_timeline_of_a_hostile_exception(run_page: Runner) -> None:
    xid = HOSTILE["exception_id"]
    at = run_page(hostile_db(), "queue", as_of="2026-05-05T12:00:00Z", exception=xid)
    _ok(at)
    _assert_literal_only(at, "**bold**")
    title = f"{plot_text(xid)} — {plot_text(HOSTILE['category'])}"
    assert chart_titled(at, title)
    assert md_literal(HOSTILE["site"]) in texts(at)


def test_clicking_a_hostile_bar_filters_on_the_real_value(run_page: Runner) -> None:
    at = run_page(hostile_db(), "bottlenecks", as_of="2026-05-05T12:00:00Z")
    _ok(at)
    bars = chart_titled(at, "By root cause")["data"][0]["y"]
    assert plot_text(HOSTILE["category_html"]) in bars
    # a click hands back the (escaped) label; the filter gets the real value
    state = {"selection": {"points": [{"y": plot_text(HOSTILE["category_html"])}]}}
    assert ui.selected_label(state, "y") == HOSTILE["category_html"]
    assert ui.selected_label({"selection": {"points": []}}, "y") is None
    assert ui.selected_label(None, "y") is None


# --- 10: no traceback, friendly messages for garbage in the URL -------------------------


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(
    "as_of", ["0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]
)
def test_an_as_of_out_of_range_is_a_friendly_warning(
    run_page: Runner, page: str, as_of: str
) -> None:
    at = run_page(hand_db(), page, as_of=as_of)
    _ok(at)
    warning = " ".join(w.value for w in at.warning)
    assert "As-of ignored" in warning and as_of in warning
    assert "(latest data)" in texts(at)


@pytest.mark.parametrize(
    ("page", "key", "what"),
    [
        ("overview", "period", "Period"),
        ("overview", "grain", "Grain"),
        ("bottlenecks", "hm_rows", "Heatmap rows"),
        ("bottlenecks", "hm_cols", "Heatmap columns"),
        ("bottlenecks", "hm_metric", "Heatmap value"),
        ("bottlenecks", "pareto_metric", "Pareto measure"),
        ("aging", "aging_by", "Break down by"),
        ("queue", "sort", "Sort"),
        ("quality", "reason", "Reason"),
    ],
)
def test_an_unknown_choice_in_the_url_is_named_and_ignored(
    run_page: Runner, page: str, key: str, what: str
) -> None:
    at = run_page(hand_db(), page, **{key: "no-such-[x](https://evil.example)"})
    _ok(at)
    warning = " ".join(w.value for w in at.warning)
    assert f"{what} `no-such-[x](https://evil.example)` from the link" in warning
    _assert_literal_only(at)
    assert charts(at)


def test_an_unknown_filter_value_explains_itself(run_page: Runner) -> None:
    at = run_page(hand_db(), "aging", severity="apocalyptic", carrier="x" * 5000)
    _ok(at)
    assert "No exception matches the filters" in texts(at)


def test_an_unexpected_error_is_one_friendly_line(
    run_page: Runner, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom in /srv/secret/fpi/metrics/query.py")

    monkeypatch.setattr(data, "totals", broken)
    with caplog.at_level(logging.ERROR, logger="fpi.dashboard"):
        at = run_page(hand_db(), "overview")
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Something went wrong while drawing this page" in shown
    assert "secret" not in shown and "RuntimeError" not in shown and "Traceback" not in shown
    ref = re.search(r"reference `([0-9a-f]{8})`", shown)
    assert ref is not None
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert ref.group(1) in logged
    assert any(r.exc_info and "boom in /srv/secret" in str(r.exc_info[1]) for r in caplog.records)
    assert at.sidebar.multiselect  # the rest of the app is still there


def test_an_error_before_the_page_is_one_friendly_line(
    run_page: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("bad /srv/secret")

    monkeypatch.setattr(data, "clock_and_values", broken)
    at = run_page(hand_db(), "overview")
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Something went wrong while drawing the dashboard" in shown and "secret" not in shown


def test_resolve_window_never_overflows() -> None:
    clock = datetime(2026, 5, 5, tzinfo=UTC)
    early = Filters(as_of=datetime(1, 1, 2, tzinfo=UTC), period="90d")
    win, f = resolve_window(early, clock)
    assert win is not None and win.as_of == clock and f.as_of is None and f.as_of_error
    assert resolve_window(Filters(), None) == (None, Filters())
    f = parse_filters("0001-01-01T00:00:00Z", "7d", {})
    assert f.as_of is None and f.as_of_error
    assert parse_filters("2199-12-31T00:00:00Z", "7d", {}).as_of is not None


def test_streamlit_shows_no_error_details_and_binds_loopback() -> None:
    cmd = launch.command(Path("/data/f.duckdb"), 8600, True, 7.5)
    flags = dict(zip(cmd[5:-7:2], cmd[6:-7:2], strict=True))
    assert flags["--client.showErrorDetails"] == "none"
    assert flags["--server.address"] == "127.0.0.1"
    wide = launch.command(Path("/d.duckdb"), 1, True, 0.0, address="0.0.0.0")
    assert wide[wide.index("--server.address") + 1] == "0.0.0.0"


# --- 8: address and login ---------------------------------------------------------------


def _fake_launch(seen: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Record what ``launch.launch`` gets; ``fpi dashboard`` hands over to
    ``python -m dashboard`` in this process instead of replacing it."""

    def fake(db: Path, **kwargs: Any) -> int:
        seen.update(kwargs, db=db)
        return 0

    monkeypatch.setattr(cli, "run_dashboard", dashboard_main.main)
    return fake


def test_fpi_dashboard_address_defaults_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(launch, "launch", _fake_launch(seen, monkeypatch))
    monkeypatch.delenv("FPI_CONFIG", raising=False)
    assert cli.main(["dashboard", "--db", str(hand_db()), "--headless"]) == 0
    assert seen["address"] == "127.0.0.1"
    assert cli.main(["dashboard", "--db", str(hand_db()), "--address", "0.0.0.0"]) == 0
    assert seen["address"] == "0.0.0.0"


def test_with_auth_configured_only_a_logged_in_visitor_sees_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FPI_DB", str(hand_db()))
    monkeypatch.setenv("FPI_REFRESH_SECONDS", "0")
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "id",
        "client_secret": "secret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
    }
    at = AppTest.from_file(str(Path(ui.__file__).with_name("app.py")), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric and not charts(at) and not at.sidebar.multiselect
    at = AppTest.from_file(str(Path(ui.__file__).with_name("app.py")), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": True, "email": "ops@example.com"}
    at.run()
    _ok(at)
    assert metrics(at)["Open exceptions"] and "Log out" in [b.label for b in at.button]


# --- 11: CSV downloads ------------------------------------------------------------------


def test_csv_bytes_neutralise_text_cells_only() -> None:
    df = pl.DataFrame({"site": ["=1+1", "DC-ATL"], "sla_left_hours": [-1.0, 2.0]})
    assert ui.csv_bytes(df).decode().splitlines() == [
        "site,sla_left_hours",
        "'=1+1,-1.0",
        "DC-ATL,2.0",
    ]


def test_every_csv_download_is_neutralised(
    run_page: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: dict[str, str] = {}
    real = st.download_button

    def spy(label: str, data: bytes, file_name: str, **kwargs: Any) -> Any:
        got[file_name] = data.decode("utf-8")
        return real(label, data=data, file_name=file_name, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    for page in PAGES:
        _ok(run_page(hostile_db(), page, as_of="2026-05-05T12:00:00Z"))
    samples = got["fpi-rejected-invalid-json.csv"]
    assert f"'{HOSTILE['raw']}" in samples
    queue = pl.read_csv(got["fpi-exception-queue-revenue.csv"].encode())
    assert "'=HYPERLINK" in got["fpi-exception-queue-revenue.csv"]
    assert queue.schema["sla_left_hours"] == pl.Float64 and queue["sla_left_hours"].min() < 0
    for name, text in got.items():
        for line in text.splitlines():
            for cell in line.split(","):
                assert not cell.startswith(("=", "+", "@")), f"{name}: {cell!r}"
                if cell.startswith("-"):
                    float(cell)  # a negative number, not text


# --- 12: bugs ---------------------------------------------------------------------------


def test_read_outside_a_script_run_opens_its_own_connection() -> None:
    db = str(hand_db())
    with data.reader(db) as con:
        assert con.sql("SELECT count(*) FROM exceptions").fetchall() == [(5,)]
    with data.run_scope(db):
        with data.reader(db) as a, data.reader(db) as b:
            assert a is b  # shared within the run
        with data.reader(str(sample_db())) as other:  # another database: its own
            assert other is not a


def test_quality_page_accepted_chart_adds_up_to_the_accepted_tile(run_page: Runner) -> None:
    at = run_page(sample_db(), "quality")
    _ok(at)
    accepted = int(metrics(at)["Accepted events"].replace(",", ""))
    bars = chart_titled(at, "Accepted events by type")["data"][0]
    assert sum(bars["x"]) == accepted


def _eur_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "eur.toml"
    cfg.write_text('reporting_currency = "EUR"\n[rates]\nUSD = 0.9\n', encoding="utf-8")
    return cfg


def test_fpi_config_reaches_the_dashboard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = _eur_config(tmp_path)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(launch, "launch", _fake_launch(seen, monkeypatch))
    monkeypatch.delenv("FPI_CONFIG", raising=False)
    assert cli.main(["--config", str(cfg), "dashboard", "--db", str(hand_db())]) == 0
    assert seen["config"] == cfg
    assert cli.main(["dashboard", "--db", str(hand_db())]) == 0
    assert seen["config"] is None
    monkeypatch.setenv("FPI_CONFIG", str(cfg))
    assert cli.main(["dashboard", "--db", str(hand_db())]) == 0
    assert seen["config"] == cfg


def test_fpi_dashboard_refuses_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--config", str(tmp_path / "nope.toml"), "dashboard", "--db", str(hand_db())])
    assert code == 1 and "config file not found" in capsys.readouterr().err


def test_launch_hands_the_config_to_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = _eur_config(tmp_path)
    cmd = launch.command(Path("/d.duckdb"), 1, True, 0.0, config=cfg)
    assert cmd[cmd.index("--") :][-2:] == ["--config", str(cfg)]
    settings = app_settings(cmd[cmd.index("--") + 1 :])
    assert settings.config == cfg
    code = (
        "import os, sys; "
        f"sys.exit(0 if os.environ.get('FPI_CONFIG') == {str(cfg.resolve())!r} "
        "and sys.argv[-1] == os.environ['FPI_CONFIG'] else 5)"
    )

    real = launch.command

    def fake_command(*args: Any, **kwargs: Any) -> list[str]:
        return [sys.executable, "-c", code, *real(*args, **kwargs)[-2:]]

    monkeypatch.setattr(launch, "command", fake_command)
    monkeypatch.setenv("FPI_CONFIG", "/elsewhere.toml")
    assert launch.launch(tmp_path / "x.duckdb", headless=True, config=cfg) == 0


def test_the_app_uses_the_settings_it_was_given(
    run_page: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(context.CONFIG_ENV, str(_eur_config(tmp_path)))
    at = run_page(hand_db(), "overview", as_of="2026-05-05T12:00:00Z")
    _ok(at)
    assert metrics(at)["Revenue at risk"].startswith("EUR ")
    assert app_settings([]).config == tmp_path / "eur.toml"
