"""Profiles from the environment and from config.toml; every mistake is one line naming the file and field."""

from __future__ import annotations

import pytest

from batchtui.core.api.client import make_openai_client
from batchtui.core.config import OPENAI_BASE_URL, Profile, resolve_profile
from batchtui.core.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATCHTUI_HOME", str(tmp_path / "home"))


def write_config(tmp_path, text):
    path = tmp_path / "home" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_environment_profile(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_1")
    profile = resolve_profile()
    assert (profile.name, profile.api_key, profile.base_url) == ("default", "sk-env", "http://127.0.0.1:9/v1")
    assert (profile.organization, profile.project) == ("org-1", "proj_1")


def test_key_never_in_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    assert "sk-secret-value" not in repr(resolve_profile())


def test_named_profiles_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WORK_KEY", "sk-work")
    write_config(tmp_path, """
default_profile = "work"
[profiles.work]
api_key_env = "WORK_KEY"
project = "proj_w"
[profiles.azure]
kind = "azure"
azure_endpoint = "https://example.openai.azure.com"
api_version = "2025-04-01-preview"
api_key = "az-key"
[profiles.local]
base_url = "http://127.0.0.1:8750/v1"
api_key = "sk-local"
""")
    work = resolve_profile()
    assert (work.name, work.api_key, work.project, work.endpoint) == ("work", "sk-work", "proj_w", OPENAI_BASE_URL)
    azure = resolve_profile("azure")
    assert (azure.kind, azure.endpoint, azure.api_key) == ("azure", "https://example.openai.azure.com", "az-key")
    assert resolve_profile("local").base_url == "http://127.0.0.1:8750/v1"


def test_caches_are_per_profile_and_per_endpoint(tmp_path):
    default = Profile(name="default")
    sandbox = Profile(name="default", base_url="http://127.0.0.1:8750/v1")
    work = Profile(name="work")
    dirs = {default.cache_dir(), sandbox.cache_dir(), work.cache_dir()}
    assert len(dirs) == 3
    assert all(d.is_relative_to(tmp_path / "home" / "cache") for d in dirs)


def test_a_profile_sets_the_clients_timeout_and_retries(tmp_path):
    write_config(tmp_path, "[profiles.slow]\napi_key = 'sk-x'\ntimeout = 5\nmax_retries = 0\nlog_finished = false\n"
                           "[profiles.plain]\nbase_url = 'http://127.0.0.1:9/v1'\n")
    slow, plain = resolve_profile("slow"), resolve_profile("plain")
    assert (slow.timeout, slow.max_retries) == (5.0, 0) and (plain.timeout, plain.max_retries) == (60.0, 2)
    assert not slow.log_finished and plain.log_finished
    client = make_openai_client(slow)
    assert (client.timeout, client.max_retries) == (5.0, 0)


def test_a_profile_names_its_enqueued_token_limits(tmp_path):
    write_config(tmp_path, "[profiles.org]\napi_key = 'sk-x'\n[profiles.org.enqueued_token_limit]\n"
                           "'gpt-4o-mini' = 2_000_000\n'gpt-4.1' = 900_000\n")
    assert resolve_profile("org").enqueued_token_limit == {"gpt-4o-mini": 2_000_000, "gpt-4.1": 900_000}


@pytest.mark.parametrize(
    ("text", "name", "fragment"),
    [
        ("[profiles.a]\nkind = 'gcp'\n", "a", "kind must be 'openai' or 'azure'"),
        ("[profiles.a]\nbase_ur = 'x'\n", "a", "unknown field 'base_ur'"),
        ("[profiles.a]\napi_key = 3\n", "a", "field 'api_key' must be a string"),
        ("[profiles.a]\napi_key_env = 'NOPE_NOT_SET'\n", "a", "NOPE_NOT_SET (api_key_env) is not set"),
        ("[profiles.a]\nkind = 'azure'\n", "a", "needs azure_endpoint"),
        ("[profiles.a]\n", "b", "no profile named 'b' (known: a)"),
        ("default_profile = 'x'\n", None, "default_profile 'x' has no [profiles.x] section"),
        ("[profiles.a\n", "a", "line 1"),
        ("[profiles.a]\ntimeout = 'slow'\n", "a", "field 'timeout' must be a number from 0.1 to 3600"),
        ("[profiles.a]\ntimeout = 0\n", "a", "field 'timeout' must be a number from 0.1 to 3600"),
        ("[profiles.a]\nmax_retries = 1.5\n", "a", "field 'max_retries' must be a whole number from 0 to 10"),
        ("[profiles.a]\nmax_retries = true\n", "a", "field 'max_retries' must be a whole number from 0 to 10"),
        ("[profiles.a]\nlog_finished = 'no'\n", "a", "field 'log_finished' must be true or false"),
        ("[profiles.a]\nenqueued_token_limit = 5\n", "a", "[profiles.a].enqueued_token_limit must be a table"),
        ("[profiles.a.enqueued_token_limit]\nx = 0\n", "a", "'x' must be a whole number of tokens, at least 1"),
        ("[profiles.a.enqueued_token_limit]\nx = '9'\n", "a", "'x' must be a whole number of tokens, at least 1"),
    ],
)
def test_config_mistakes_are_one_line_naming_the_file(tmp_path, text, name, fragment):
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        resolve_profile(name)
    message = str(caught.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message
