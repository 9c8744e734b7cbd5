"""Runtime settings from the environment (prefix TUNEWISE_); secrets are never fields here."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """tunewise's runtime settings, read from TUNEWISE_* environment variables (unknown ones ignored)."""

    model_config = SettingsConfigDict(env_prefix="TUNEWISE_", extra="ignore")

    home: Path = Field(default=Path(".tunewise"), description="Where runs, indexes and sessions live.")
    llm_model: str | None = Field(default=None, description="Chat model for the interviewer's LLM mode.")
    prices_file: Path | None = Field(default=None, description="JSON file layered over the shipped prices.")

    @property
    def chroma_dir(self) -> Path:
        """Return where the local Chroma database lives: HOME/chroma."""
        return self.home / "chroma"

    @property
    def runs_dir(self) -> Path:
        """Return where run folders go (plans, evaluations, OpenAI training jobs): HOME/runs."""
        return self.home / "runs"

    @property
    def sessions_db(self) -> Path:
        """Return the agent's session database (LangGraph checkpoints): HOME/sessions.sqlite."""
        return self.home / "sessions.sqlite"


def get_settings() -> Settings:
    """Read the settings from the environment now (not cached: a changed variable is seen on the next call)."""
    return Settings()
