"""One typed, validated configuration object; every field has a `CHRONOSCHED_…` environment twin."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user data folder for the embedded PostgreSQL (kept between runs)."""
    return Path(platformdirs.user_data_dir("chronosched"))


class Settings(BaseSettings):
    """Settings shared by every Chronosched process (API, worker, scheduler, CLI)."""

    model_config = SettingsConfigDict(env_prefix="CHRONOSCHED_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CHRONOSCHED_DATABASE_URL"),
        description="External PostgreSQL; without it an embedded PostgreSQL 18 is started.",
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8080
    pool_min_size: int = 1
    pool_max_size: int = 10
    statement_timeout_ms: int = 30_000
    log_level: str = "info"
