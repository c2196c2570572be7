"""Every knob of Callwright and its default, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process configuration. Each field maps to the env var ``CALLWRIGHT_<NAME>``,
    except ``database_url`` which also answers to plain ``DATABASE_URL``."""

    model_config = SettingsConfigDict(
        env_prefix="CALLWRIGHT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./data/callwright.db",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy async URL; SQLite file by default, postgresql+asyncpg://... for production.",
    )
    data_dir: Path = Field(default=Path("./data"), description="Where recordings and the SQLite file live.")
    public_url: str = Field(
        default="",
        description="Base URL carriers and callers reach this server at; derived from host/port when empty.",
    )
    host: str = Field(default="127.0.0.1", description="Bind address for `callwright serve`.")
    port: int = Field(default=8000, description="Bind port for `callwright serve`.")
    broker: str = Field(
        default="memory", description="Task broker: `memory` (in-process) or a redis:// URL."
    )
    run_voice: bool = Field(
        default=True,
        description="Dial calls and run media sessions in this process; false makes an API-only node.",
    )
    roles: str = Field(
        default="dial,media,jobs",
        description="Process roles `callwright serve` runs beside the API (comma-separated: `dial`, `media`, "
        "`jobs`); empty or `none` makes an API-only process. `callwright worker --roles` sets its own.",
    )
    public_stream_url: str = Field(
        default="",
        description="The ws:// or wss:// URL carriers open this process's Media Streams at; derived from "
        "public_url (serve) or host/port (worker) when empty.",
    )
    media_capacity: int = Field(
        default=50,
        ge=1,
        description="Live call sessions a media process takes; beyond it the dialer sends streams elsewhere.",
    )
    max_live_calls_per_org: int = Field(
        default=100, ge=1, description="Live calls of one organization at most, campaigns together (admission control)."
    )
    carrier_timeout_s: float = Field(
        default=180.0, gt=0,
        description="A dialed call the carrier reports nothing on for this long ends as failed (no_carrier_callback), "
        "freeing its campaign slot.",
    )
    admission_interval_s: float = Field(
        default=1.0, gt=0, description="How often a dial process looks for campaign rows to dial, besides nudges."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="Structured JSON logs (one object per line).")
    idempotency_ttl_s: int = Field(default=24 * 3600, description="How long Idempotency-Key answers are kept.")
    reconcile_interval_s: float = Field(
        default=2.0, description="How often due and orphaned work is re-enqueued."
    )
    api_key_cache_s: float = Field(default=30.0, description="How long a verified API key is cached in memory.")
    default_country: str = Field(default="US", description="Region for numbers given without a country code.")
    whisper_model_dir: Path | None = Field(
        default=None,
        description="A CTranslate2 Whisper model directory (model.bin, config.json, tokenizer.json, "
        "vocabulary.txt) for open speech; the packaged Whisper tiny.en when empty. Checked at start-up.",
    )
    whisper_model_sha256: str | None = Field(
        default=None,
        description="Expected sha256 of model.bin in whisper_model_dir; the model is refused when it differs. "
        "The packaged model is always checked against its pinned hash.",
    )
    simulator_voice: str = Field(default="en-gb", description="espeak-ng voice of the simulated callee.")
    callee_voice: Literal["auto", "piper", "espeak"] = Field(
        default="auto",
        description="Synthesizer of the simulated callee: `piper` (the optional extra, `pip install "
        "'callwright[piper]'`), `espeak` (simulator_voice), or `auto`: Piper when installed, else espeak.",
    )
    callee_piper_model: Path | None = Field(
        default=None, description="A Piper .onnx voice for the simulated callee; the packaged Piper voice when empty."
    )
    simulator_ring_ms: float = Field(default=1000.0, description="How long a simulated phone rings before it answers.")
    simulator_no_answer_after_ms: float | None = Field(
        default=None, description="Ring-out time of the simulator's no-answer callee (default: the dial timeout)."
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let customer URLs (dynamic context, webhooks, tools) reach loopback and private addresses; "
        "for development and tests only.",
    )
    secret_key: str = Field(
        default="",
        description="Key that encrypts stored customer secrets and signs attachment URLs; every process of one "
        "deployment needs the same value. When empty, one is generated in the data directory.",
    )
    openai_base_url: str = Field(
        default="",
        validation_alias="OPENAI_BASE_URL",
        description="Default OpenAI-compatible server for LLM agents and LLM analysis; empty means none.",
    )
    openai_api_key: str = Field(
        default="", validation_alias="OPENAI_API_KEY", description="API key for the default OpenAI-compatible server."
    )
    webhook_timeout_s: float = Field(
        default=15.0, gt=0, le=60, description="A webhook attempt that gets no 2xx within this time is retried."
    )
    webhook_retry_schedule_s: list[float] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        description="Waits before each webhook retry (a Retry-After header may ask for longer); then it fails.",
    )
    jobs_poll_interval_s: float = Field(
        default=0.5, gt=0, description="How often background jobs look for work other processes committed."
    )
    attachment_url_ttl_s: int = Field(
        default=7 * 24 * 3600, gt=0, description="How long signed links to recordings and transcripts stay valid."
    )
    twilio_account_sid: str = Field(
        default="", validation_alias="TWILIO_ACCOUNT_SID", description="Twilio account SID (AC...) for `twilio` agents."
    )
    twilio_auth_token: str = Field(
        default="", validation_alias="TWILIO_AUTH_TOKEN",
        description="Twilio auth token: authenticates REST calls and checks X-Twilio-Signature on Twilio's requests.",
    )
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Base URL of Twilio's REST API (a local fake in tests)."
    )
    twilio_timeout_s: float = Field(default=10.0, gt=0, description="A Twilio REST request taking longer fails.")
    analysis_model: str = Field(default="gpt-4o-mini", description="Model that writes post-call analysis.")
    bootstrap_key: bool = Field(
        default=True, description="On first serve with no API key at all, create one and print it once."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
