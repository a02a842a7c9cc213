"""Settings: the environment (or a given mapping) read once, by pydantic-settings."""

from __future__ import annotations

import os

import pytest

from maintenance_windows.config.settings import ConfigurationError, Settings


def test_a_given_mapping_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [key for key in os.environ if key.startswith("MW_")]:  # the local stack's, when it runs the tests
        monkeypatch.delenv(name)
    monkeypatch.setenv("MW_PROJECT", "from-the-process")
    monkeypatch.setenv("K_SERVICE", "mw-plan-windows")
    given = Settings.from_env({"MW_REGION": "us-central1"})
    assert (given.project, given.region, given.on_cloud_run) == ("local-project", "us-central1", False)
    process = Settings.from_env()
    assert (process.project, process.on_cloud_run) == ("from-the-process", True)


def test_names_are_case_sensitive_and_the_secrets_a_comma_separated_list() -> None:
    settings = Settings.from_env({"mw_project": "lower", "MW_WEBHOOK_SECRETS": " first, second ,,"})
    assert settings.project == "local-project"
    assert [secret.get_secret_value() for secret in settings.webhook_secrets] == ["first", "second"]
    assert "first" not in repr(settings)


def test_every_invalid_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as invalid:
        Settings.from_env({"MW_MAX_BODY_BYTES": "0", "MW_AI_ENABLED": "maybe"})
    assert str(invalid.value) == (
        "invalid environment: MW_MAX_BODY_BYTES: Input should be greater than 0; "
        "MW_AI_ENABLED: Input should be a valid boolean, unable to interpret input"
    )
