"""Configuration of the sandbox server: pace, failure rate, storage, demo data, fault injection."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

FAULTS_ENV = "BATCHTUI_SANDBOX_FAULTS"

_SPEC_ALIASES = {
    "429": "rate_429",
    "500": "rate_500",
    "503": "rate_503",
    "slow": "rate_slow",
    "drop": "rate_drop",
    "slow_seconds": "slow_seconds",
    "seed": "seed",
    "no_access_key": "no_access_key",
}


@dataclass
class FaultConfig:
    """Share of /v1 requests answered with a fault, drawn from a seeded generator so runs repeat;
    `no_access_key` is a key answered 403 on every call, as OpenAI answers a key without Batch API access."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_drop: float = 0.0
    seed: int = 0
    no_access_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_500", "rate_503", "rate_slow", "rate_drop"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} must be between 0 and 1, got {value}")
            setattr(self, name, value)
        if float(self.slow_seconds) < 0:
            raise ValueError(f"fault slow_seconds must be >= 0, got {self.slow_seconds}")
        self.slow_seconds = float(self.slow_seconds)
        self.seed = int(self.seed)
        if self.rate_429 + self.rate_500 + self.rate_503 + self.rate_drop > 1.0:
            raise ValueError("fault rates 429+500+503+drop must add up to at most 1")

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Read a spec like "429=0.1,500=0.05,slow=0.1,slow_seconds=2,drop=0.05,seed=7"."""
        values: dict[str, float | int | str] = {}
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip()
            field = _SPEC_ALIASES.get(key) or (key if key in _field_names() else None)
            if not sep or field is None:
                known = ", ".join(_SPEC_ALIASES)
                raise ValueError(f"bad fault field {key!r} in {spec!r}: expected key=value with key in {known}")
            try:
                values[field] = raw.strip() if field == "no_access_key" else int(raw) if field == "seed" else float(raw)
            except ValueError:
                raise ValueError(f"bad fault field {key!r}: {raw.strip()!r} is not a number") from None
        return cls(**values)

    @classmethod
    def from_env(cls) -> FaultConfig | None:
        """The faults named in $BATCHTUI_SANDBOX_FAULTS, or None when it is unset or empty."""
        spec = os.environ.get(FAULTS_ENV, "").strip()
        return cls.parse(spec) if spec else None

    @classmethod
    def from_dict(cls, data: dict) -> FaultConfig:
        """Build from a JSON object of field names (the /_sandbox/faults body)."""
        unknown = set(data) - _field_names()
        if unknown:
            raise ValueError(f"bad fault field {sorted(unknown)[0]!r}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return any((self.rate_429, self.rate_500, self.rate_503, self.rate_slow, self.rate_drop))


def _field_names() -> set[str]:
    return {f.name for f in fields(FaultConfig)}


@dataclass
class SandboxConfig:
    """How the sandbox behaves: `speed` scales its simulated clock, `fail_rate` is the share of
    request lines the fake model rejects, `data_dir` makes state persist (a temp dir otherwise)."""

    speed: float = 1.0
    fail_rate: float = 0.0
    data_dir: Path | str | None = None
    seed_demo: bool = False
    api_key: str | None = None
    faults: FaultConfig | None = None
    models: tuple[str, ...] = ()
    """Models served besides the catalogue's (batchtui.sandbox.catalogue); a batch of any other fails."""
    enqueued_token_limit: int | None = None
    """Input tokens all queued and running batches of one model may hold together; None is no limit."""

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, got {self.fail_rate}")
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir)
        self.models = tuple(self.models)
        for name in self.models:
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise ValueError(f"models: {name!r} is not a model name")
        self.enqueued_token_limit = check_token_limit(self.enqueued_token_limit)


def check_token_limit(value: object) -> int | None:
    """An enqueued-token limit as given (a whole number >= 1, or None for none); ValueError names what is wrong."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"enqueued_token_limit must be a whole number >= 1 or null, got {value!r}")
    return value
