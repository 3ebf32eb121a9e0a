"""One settings object for the whole service: every knob typed, read from ``TRIAGE_*``.

MLflow keeps its own ``MLFLOW_TRACKING_URI``; when it is unset we point MLflow at an
embedded SQLite store under ``home`` so that the registry and aliases work out of the box.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from triage.config import Domain, load_domain

PACKAGE_DIR = Path(__file__).resolve().parent


#: The shortest workbench secret the service accepts (an empty or guessable one would let anyone
#: forge a session).
MIN_SECRET_LENGTH = 32


class SecretMissing(ValueError):
    """``TRIAGE_WORKBENCH_SECRET`` is unset or too short: the service refuses to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    home: Path = Field(
        Path(".triage"), description="Where embedded state lives (database, MLflow, models)."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite at home/triage.db."
    )
    domain_file: Path = Field(
        PACKAGE_DIR / "config" / "domain.yaml", description="Teams, bands, tier rule."
    )
    routing_file: Path = Field(
        PACKAGE_DIR / "config" / "routing.yaml", description="Routing rules (data)."
    )
    horizon_days: int = Field(180, ge=1, le=3650, description="民转刑 label horizon H in days.")
    log_level: str = "INFO"
    spark_master: str = Field("local[*]", description="Spark master URL for --engine spark.")
    spark_driver_memory: str = Field(
        "6g",
        pattern=r"^\d+[kmgt]$",
        description="JVM heap of the Spark driver (local mode: all the work).",
    )
    spark_executor_memory: str = Field(
        "1g",
        pattern=r"^\d+[kmgt]$",
        description="JVM heap of each Spark executor (a cluster's master: spark://, yarn, k8s://).",
    )
    spark_shuffle_partitions: int = Field(
        8, ge=1, le=100_000, description="Partitions of each Spark shuffle; raise for 1M+ cases."
    )
    escalation_model_name: str = "triage-escalation"
    tier_model_name: str = "triage-tier"
    champion_alias: str = "champion"
    challenger_alias: str = Field(
        "challenger", description="The alias of versions scored in shadow beside the champions."
    )
    # The scoring service (triage serve).
    max_batch_cases: int = Field(
        1000, ge=1, le=100_000, description="Most cases in one batch-score call (413 above)."
    )
    lane_max_cases: int = Field(
        32,
        ge=1,
        le=1000,
        description="Most concurrent single-case requests a worker "
        "scores together in one call (triage.serving.batching).",
    )
    lane_linger_ms: float = Field(
        10.0,
        ge=0,
        le=1000,
        description="After a batch, how long a worker's lane may "
        "wait for the callers it just answered to send their next case (0: never).",
    )
    max_body_bytes: int = Field(
        16 * 2**20, ge=1024, description="Largest request body accepted (413 above)."
    )
    max_ingest_rows: int = Field(
        50_000, ge=1, description="Most rows in one ingest call (413 above)."
    )
    default_top_factors: int = Field(
        8, ge=1, le=1000, description="Factors listed per explanation without ?top=."
    )
    key_cache_seconds: float = Field(
        300.0, ge=0, description="How long a verified API key skips argon2 again."
    )
    auth_failures_per_key: int = Field(
        5,
        ge=1,
        description="Failed authentications a key id may have per window "
        "before 429 (per worker process).",
    )
    auth_failures_per_address: int = Field(
        30,
        ge=1,
        description="Failed authentications a client address may "
        "have per window before 429 (per worker process).",
    )
    auth_failure_window_seconds: float = Field(
        60.0, gt=0, le=86_400, description="The window of both limits."
    )
    api_docs_public: bool = Field(
        False, description="Serve /docs, /redoc and /openapi.json without an API key."
    )
    # The analyst workbench (/ui/).
    mlflow_ui_url: AnyHttpUrl = Field(
        AnyHttpUrl("http://127.0.0.1:5000"),
        description="The MLflow UI the workbench's models page links to.",
    )
    workbench_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long a workbench sign-in lasts."
    )
    workbench_secret: SecretStr | None = Field(
        None,
        description=f"Signs workbench session cookies and forms; at least {MIN_SECRET_LENGTH}"
        " characters, required to serve.",
    )

    def session_secret(self) -> bytes:
        """The workbench secret; raises ``SecretMissing`` when it is unset or shorter than
        :data:`MIN_SECRET_LENGTH`.  Here, not in the workbench, so that ``triage serve`` refuses
        to start without one before it imports the web stack."""
        secret = self.workbench_secret.get_secret_value().strip() if self.workbench_secret else ""
        if len(secret) < MIN_SECRET_LENGTH:
            raise SecretMissing(
                f"TRIAGE_WORKBENCH_SECRET must hold at least {MIN_SECRET_LENGTH} characters"
                f" (it has {len(secret)}); make one with:"
                " python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return secret.encode()

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def domain(self) -> Domain:
        """``domain_file`` as typed constants (read and checked once per file)."""
        return load_domain(self.domain_file)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'triage.db'}"

    @property
    def mlflow_tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> str:
        return (self.home / "mlartifacts").as_uri()

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings(...)`` instead."""
    return Settings()
