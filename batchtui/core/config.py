"""Profiles: which API to talk to and with which key, from the environment or config.toml.

A config file looks like this (every field but the table name is optional):

    default_profile = "work"

    [profiles.work]                     # OpenAI itself
    api_key_env = "WORK_OPENAI_KEY"     # read the key from this variable (preferred)
    organization = "org-..."
    project = "proj_..."

    [profiles.azure]
    kind = "azure"
    azure_endpoint = "https://example.openai.azure.com"
    api_version = "2025-04-01-preview"
    api_key_env = "AZURE_OPENAI_API_KEY"

    [profiles.local]                    # any OpenAI-compatible server
    base_url = "http://127.0.0.1:8750/v1"
    api_key = "sk-local"                # allowed; batchtui never writes keys anywhere
    timeout = 20                        # seconds a call may take (default 60)
    max_retries = 0                     # the SDK's own retries of a failed call (default 2)
    log_finished = false                # fill llm_logs as batches finish (default true; off for huge accounts)

    [profiles.work.enqueued_token_limit]  # your organization's limits, so jobs never submit past them
    "gpt-4o-mini" = 2_000_000

    [log_store]                         # the team's PostgreSQL: llm_logs rows are pushed there too
    url = "postgresql://me@db.example.com/team"
    password_env = "TEAM_PG_PASSWORD"   # else libpq's PGPASSWORD or ~/.pgpass

BATCHTUI_LOG_STORE (a URL) stands in for [log_store].

With no config file, or no profile chosen, the "default" profile comes from OPENAI_API_KEY,
OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from batchtui.core import paths
from batchtui.core.errors import ConfigError
from batchtui.core.text import printable, redact_url

OPENAI_BASE_URL = "https://api.openai.com/v1"
ProfileKind = Literal["openai", "azure"]
_PROFILE_FIELDS = {
    "kind", "base_url", "api_key", "api_key_env", "organization", "project", "azure_endpoint", "api_version",
    "timeout", "max_retries", "log_finished", "enqueued_token_limit",
}
_BOOL_FIELDS = {"log_finished"}
_NUMBER_FIELDS: dict[str, tuple[bool, float, float]] = {"timeout": (False, 0.1, 3600.0), "max_retries": (True, 0, 10)}
"""The fields that are numbers: whether whole, and their bounds. Every other field but _BOOL_FIELDS is a string."""


@dataclass(frozen=True)
class LogStoreSettings:
    """Where the team's store is: a postgresql:// URL (a password in it is allowed but better left to
    `password_env`, PGPASSWORD or .pgpass)."""

    url: str = ""
    password_env: str | None = None

    @property
    def shown(self) -> str:
        return redact_url(self.url)

    @property
    def key(self) -> str:
        """Names the store in the cache's notes of what was pushed, without its password."""
        return hashlib.sha256(self.shown.encode()).hexdigest()[:16]

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"conninfo": self.url, "connect_timeout": 10, "application_name": "batchtui"}
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise ConfigError(f"The log store's password variable {self.password_env} (password_env) is not set.")
            args["password"] = password
        return args


@dataclass(frozen=True)
class Profile:
    """Everything needed to build an API client; the key is kept out of repr so it never reaches logs."""

    name: str
    kind: ProfileKind = "openai"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    project: str | None = None
    azure_endpoint: str | None = None
    api_version: str | None = None
    timeout: float = 60.0
    """Seconds one API call may take before the SDK gives it up (and retries it)."""
    max_retries: int = 2
    """How often the SDK retries a call that failed on the way (429, 5xx, timeouts, lost connections)."""
    log_finished: bool = True
    """Whether the app imports each batch into llm_logs when it sees it finish (a few batches per sync pass)."""
    enqueued_token_limit: Mapping[str, int] = field(default_factory=dict, hash=False)
    """The organization's enqueued-token limit per model, as its limits page shows them: a job keeps the input
    tokens of its batches in flight within it."""
    log_store: LogStoreSettings | None = None
    """The team's PostgreSQL log store, from config.toml's [log_store] or BATCHTUI_LOG_STORE."""

    @property
    def _url(self) -> str:
        """The URL requests go to, whole: it may hold a password, so it is only ever hashed."""
        if self.kind == "azure":
            return self.azure_endpoint or "(no azure_endpoint)"
        return self.base_url or OPENAI_BASE_URL

    @property
    def endpoint(self) -> str:
        """The URL requests go to, as messages show it (a password or query in it redacted)."""
        return redact_url(self._url)

    def cache_dir(self) -> Path:
        """This profile's own cache folder: caches of different accounts never mix."""
        slug = self.name
        if self.name == "default" and self._url != OPENAI_BASE_URL:
            slug += "-" + hashlib.sha256(self._url.encode()).hexdigest()[:10]
        return paths.cache_root() / slug


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an API's address (it must be http(s)://host...), or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not a URL: expected http(s)://host/..., e.g. https://api.openai.com/v1"
    return None


def env_profile(name: str = "default", *, with_base_url: bool = True) -> Profile:
    """The profile the standard OPENAI_* environment variables describe (OPENAI_BASE_URL only `with_base_url`)."""
    base_url = (os.environ.get("OPENAI_BASE_URL") or None) if with_base_url else None
    problem = url_problem(base_url) if base_url else None
    if problem:
        raise ConfigError(printable(f"OPENAI_BASE_URL '{redact_url(base_url or '')}' {problem}"))
    return Profile(
        name=name,
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        organization=os.environ.get("OPENAI_ORG_ID") or None,
        project=os.environ.get("OPENAI_PROJECT_ID") or None,
    )


def load_config(path: Path) -> dict[str, Any]:
    """Parse config.toml; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:  # its `object` is the file's bytes
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise _error(path, f"not UTF-8 text (at line {line})") from None
    except OSError as exc:
        raise _error(path, f"cannot read: {exc.strerror}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(path, str(exc)) from exc


def resolve_profile(name: str | None = None, *, config_path: Path | None = None) -> Profile:
    """Pick the profile named on the command line, else the config's default, else the environment's; with the
    team's log store, if one is set."""
    path = config_path or paths.config_file()
    config = load_config(path)
    return replace(_resolve(name, config, path), log_store=_log_store(config, path))


def _log_store(config: dict[str, Any], path: Path) -> LogStoreSettings | None:
    """BATCHTUI_LOG_STORE, else config.toml's [log_store] table (url, password_env); None when neither is set."""
    from_env = os.environ.get("BATCHTUI_LOG_STORE")
    if from_env:
        return LogStoreSettings(url=from_env)
    table = config.get("log_store")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("url"), str):
        raise _error(path, "[log_store] must be a table with url = \"postgresql://...\"")
    unknown = sorted(set(table) - {"url", "password_env"})
    if unknown:
        raise _error(path, f"[log_store]: unknown field '{unknown[0]}' (known: password_env, url)")
    if not table["url"].startswith(("postgresql://", "postgres://")):
        raise _error(path, f"[log_store] url '{redact_url(table['url'])}' is not a postgresql:// URL")
    password_env = table.get("password_env")
    if password_env is not None and not isinstance(password_env, str):
        raise _error(path, "[log_store]: password_env must be the name of an environment variable")
    return LogStoreSettings(url=table["url"], password_env=password_env)


def _resolve(name: str | None, config: dict[str, Any], path: Path) -> Profile:
    profiles = config.get("profiles", {})
    if not isinstance(profiles, dict):
        raise _error(path, "'profiles' must be a table of [profiles.NAME] sections")
    chosen = name or config.get("default_profile")
    if chosen is None:
        return env_profile()
    if not isinstance(chosen, str):
        raise _error(path, "default_profile must be a string, the name of a [profiles.NAME] section")
    if not paths.is_safe_name(chosen):  # it names the profile's cache folder
        raise _error(path, f"profile name '{chosen}': use up to 100 letters, digits, '.', '_' or '-' "
                           "(not starting with '.')")
    if chosen not in profiles:
        if name is None:
            raise _error(path, f"default_profile '{chosen}' has no [profiles.{chosen}] section")
        if chosen == "default":
            return env_profile()
        known = ", ".join(sorted(profiles)) or "none"
        raise _error(path, f"no profile named '{chosen}' (known: {known})")
    return _profile_from_table(chosen, profiles[chosen], path)


def _profile_from_table(name: str, table: object, path: Path) -> Profile:
    where = f"[profiles.{name}]"
    if not isinstance(table, dict):
        raise _error(path, f"{where} must be a table")
    unknown = sorted(set(table) - _PROFILE_FIELDS)
    if unknown:
        raise _error(path, f"{where}: unknown field '{unknown[0]}' (known: {', '.join(sorted(_PROFILE_FIELDS))})")
    for key, value in table.items():
        if key == "enqueued_token_limit":
            _check_token_limits(value, f"{where}.enqueued_token_limit", path)
        elif key in _NUMBER_FIELDS:
            whole, low, high = _NUMBER_FIELDS[key]
            number = not isinstance(value, bool) and isinstance(value, int if whole else int | float)
            if not number or not low <= value <= high:
                what = "a whole number" if whole else "a number"
                raise _error(path, f"{where}: field '{key}' must be {what} from {low:g} to {high:g}")
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                raise _error(path, f"{where}: field '{key}' must be true or false")
        elif not isinstance(value, str):
            raise _error(path, f"{where}: field '{key}' must be a string")
    for key in ("base_url", "azure_endpoint"):
        problem = url_problem(table[key]) if key in table else None
        if problem:
            raise _error(path, f"{where}: {key} '{redact_url(table[key])}' {problem}")
    kind = table.get("kind", "openai")
    if kind not in ("openai", "azure"):
        raise _error(path, f"{where}: kind must be 'openai' or 'azure', not '{kind}'")
    api_key = table.get("api_key")
    if "api_key_env" in table:
        api_key = os.environ.get(table["api_key_env"]) or None
        if api_key is None:
            raise _error(path, f"{where}: environment variable {table['api_key_env']} (api_key_env) is not set")
    if kind == "azure" and "azure_endpoint" not in table:
        raise _error(path, f"{where}: kind 'azure' needs azure_endpoint")
    env = env_profile(name, with_base_url=False)
    return Profile(
        name=name,
        kind=kind,
        base_url=table.get("base_url"),
        api_key=api_key or (env.api_key if kind == "openai" else None),
        organization=table.get("organization", env.organization),
        project=table.get("project", env.project),
        azure_endpoint=table.get("azure_endpoint"),
        api_version=table.get("api_version"),
        timeout=float(table.get("timeout", Profile.timeout)),
        max_retries=int(table.get("max_retries", Profile.max_retries)),
        log_finished=table.get("log_finished", Profile.log_finished),
        enqueued_token_limit=dict(table.get("enqueued_token_limit", {})),
    )


def _check_token_limits(value: object, where: str, path: Path) -> None:
    if not isinstance(value, dict):
        raise _error(path, f"{where} must be a table of model = tokens")
    for model, tokens in value.items():
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise _error(path, f"{where}: '{model}' must be a whole number of tokens, at least 1")


def _error(path: Path, message: str) -> ConfigError:
    """An error naming the file, on one line: a TOML key or string may hold line breaks and control characters."""
    return ConfigError(printable(f"{path}: {message}"))
