"""Settings: defaults in code, the TOML file on top, every mistake named at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import Settings, load_settings, settings_from_dict
from newsletter.errors import ConfigError
from tests.helpers import ROOT


def test_example_file_lists_every_default() -> None:
    loaded = load_settings(ROOT / "newsletter.example.toml")
    defaults = Settings()
    for section in ("newsletter", "smtp", "schedule", "subscribers", "outbox", "social", "dkim"):
        assert getattr(loaded, section) == getattr(defaults, section), section


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings().smtp == Settings().smtp


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(tmp_path / "missing.toml")


def test_paths_are_relative_to_the_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "newsletter.toml"
    cfg.write_text('[outbox]\npath = "data/outbox.db"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.path(s.outbox.path) == tmp_path.resolve() / "data" / "outbox.db"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"smtp": {"security": "tls"}}, "[smtp] security = 'tls' is not one of"),
        ({"smtp": {"port": "587"}}, "[smtp] port must be a whole number"),
        ({"smtp": {"port": 70000}}, "[smtp] port must be between 1 and 65535"),
        ({"smtp": {"verify_tls": "no"}}, "[smtp] verify_tls must be true or false"),
        ({"smtp": {"password": "hunter2"}}, "unknown setting 'password' in [smtp]"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "is not an IANA time zone"),
        (
            {"schedule": {"time": "9am"}},
            "[schedule] time '9am' is not a time of day; write it as HH:MM",
        ),
        ({"schedule": {"weekday": "someday"}}, "[schedule] weekday"),
        ({"social": {"limits": {"mastodon": "big"}}}, "[social] limits"),
        ({"smtp": {"rate_period": "day"}}, "[smtp] rate_period = 'day' is not one of"),
        ({"smtp": {"host": ""}}, "[smtp] host is empty"),
        ({"smtp": {"timeout": 0}}, "[smtp] timeout must be between 0.1 and 3600 seconds"),
        ({"mail": {}}, "unknown section [mail]"),
    ],
)
def test_mistakes_are_named(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as e:
        settings_from_dict(data, source="newsletter.toml")
    assert message in str(e.value)
    assert str(e.value).startswith("newsletter.toml: ")


def test_a_password_in_the_file_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"smtp": {"password": "hunter2"}}, source="newsletter.toml")
    assert "hunter2" not in str(e.value)
