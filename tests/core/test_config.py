"""Settings: defaults, user overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings


def test_default_policy_matches_kpis_md() -> None:
    s = load_settings(None)
    assert s.reporting_currency == "USD"
    assert s.sla.target_hours("high", "key") == 9.0
    assert s.sla.target_hours("critical", "strategic") == 2.0
    assert s.sla.target_hours("low", "standard") == 72.0


def test_user_file_overrides_sections(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sla.base_hours]\nhigh = 10\n[rates]\nUSD = 1.0\nZAR = 0.05\n")
    s = load_settings(cfg)
    assert s.sla.target_hours("high", "standard") == 10.0
    assert s.sla.target_hours("low", "standard") == 72.0  # untouched keys stay
    assert s.to_reporting(100, "ZAR") == pytest.approx(5.0)
    assert s.to_reporting(100, "EUR") is None  # rates are replaced as a whole


def test_env_variable_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('reporting_currency = "EUR"\n[rates]\nUSD = 0.9\n')
    monkeypatch.setenv("FPI_CONFIG", str(cfg))
    s = load_settings()
    assert s.reporting_currency == "EUR"
    assert s.to_reporting(10, "EUR") == 10


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sla.base_hours]\nhigh = -1\n")
    with pytest.raises(ValueError, match="base_hours"):
        load_settings(cfg)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
