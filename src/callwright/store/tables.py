"""The schema, as SQLAlchemy Core tables. The database is the single source of truth."""

from __future__ import annotations

import sqlalchemy as sa

from callwright.store.types import UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Uuid = sa.Uuid(as_uuid=True)
Json = sa.JSON()

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(24), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version_id", Uuid, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("archived_at", UTCDateTime, nullable=True),
    sa.Index("ix_agents_org_created", "org_id", "created_at", "id"),
)

agent_versions = sa.Table(
    "agent_versions",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("agent_id", Uuid, sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("config", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("agent_id", "version"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("phone_number", sa.String(20), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("attributes", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("org_id", "phone_number"),
    sa.Index("ix_contacts_org_created", "org_id", "created_at", "id"),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("agent_id", Uuid, sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("agent_version_id", Uuid, nullable=False),
    sa.Column("contact_id", Uuid, sa.ForeignKey("contacts.id"), nullable=True),
    sa.Column("campaign_id", Uuid, nullable=True),
    sa.Column("campaign_contact_id", Uuid, nullable=True),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("medium", sa.String(16), nullable=False),
    sa.Column("from_number", sa.String(20), nullable=True),
    sa.Column("to_number", sa.String(20), nullable=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("end_reason", sa.String(64), nullable=True),
    sa.Column("call_source", sa.String(200), nullable=False),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("variables", Json, nullable=False),
    sa.Column("context", Json, nullable=True),
    sa.Column("first_message", sa.Text, nullable=True),
    sa.Column("prompt", sa.Text, nullable=True),
    sa.Column("retry_context", Json, nullable=True),
    sa.Column("simulated_callee", Json, nullable=True),
    sa.Column("transcript", Json, nullable=False),
    sa.Column("results", Json, nullable=False),
    sa.Column("analysis", Json, nullable=True),
    sa.Column("latency", Json, nullable=True),
    sa.Column("recording_path", sa.String(500), nullable=True),
    sa.Column("provider_call_id", sa.String(100), nullable=True),
    sa.Column("answered_by", sa.String(40), nullable=True),
    sa.Column("runner_id", sa.String(64), nullable=True),
    sa.Column("stream_token_hash", sa.String(64), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("retry_of", Uuid, nullable=True),
    sa.Column("scheduled_for", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("dynamic_context", Json, nullable=True),
    sa.Column("render_errors", Json, nullable=True),
    sa.Column("render_inputs", Json, nullable=True),
    sa.Column("analysis_state", sa.String(16), nullable=True),
    sa.Column("analysis_claimed_until", UTCDateTime, nullable=True),
    sa.Column("tool_calls", Json, nullable=True),
    sa.Column("transferred_to", sa.String(32), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=True),  # the caller's id in the business's systems (web)
    sa.Column("stream_token_expires_at", UTCDateTime, nullable=True),  # a web call's token: connect before this
    sa.Index("ix_calls_org_created", "org_id", "created_at", "id"),
    sa.Index("ix_calls_status_due", "status", "scheduled_for"),
    sa.Index("ix_calls_org_agent", "org_id", "agent_id"),
    sa.Index("ix_calls_org_contact", "org_id", "contact_id"),
    sa.Index("ix_calls_analysis_state", "analysis_state"),
    sa.Index("ix_calls_campaign_status", "campaign_id", "status"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("org_id", Uuid, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

dnc_numbers = sa.Table(
    "dnc_numbers",
    metadata,
    sa.Column("org_id", Uuid, primary_key=True),
    sa.Column("phone_number", sa.String(20), primary_key=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

phone_numbers = sa.Table(
    "phone_numbers",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("phone_number", sa.String(20), nullable=False, unique=True),
    sa.Column("agent_id", Uuid, nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_phone_numbers_org", "org_id"),
)
"""Numbers whose inbound calls an agent answers; a number belongs to one organization."""

chat_sessions = sa.Table(
    "chat_sessions",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("agent_id", Uuid, nullable=False),
    sa.Column("agent_version_id", Uuid, nullable=False),
    sa.Column("state", Json, nullable=False),
    sa.Column("ended", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

runners = sa.Table(
    "runners",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    # Process roles (DESIGN.md): what this process runs, and where a media process takes streams.
    sa.Column("roles", Json, nullable=True),
    sa.Column("media_url", sa.String(500), nullable=True),
    sa.Column("media_capacity", sa.Integer, nullable=True),
    sa.Column("media_live", sa.Integer, nullable=True),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("agent_id", Uuid, sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # draft, running, paused, completed, canceled
    sa.Column("context", Json, nullable=True),
    sa.Column("call_source", sa.String(200), nullable=False),
    sa.Column("calling_window", Json, nullable=False),
    sa.Column("retry", Json, nullable=False),
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("max_attempts_per_day", sa.Integer, nullable=False),
    sa.Column("default_region", sa.String(2), nullable=True),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("start_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Index("ix_campaigns_org_created", "org_id", "created_at", "id"),
    sa.Index("ix_campaigns_status", "status"),
)

campaign_contacts = sa.Table(
    "campaign_contacts",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("campaign_id", Uuid, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),  # the CSV line the row came from
    sa.Column("phone_number", sa.String(20), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("variables", Json, nullable=False),
    # pending (waits for its time), dialing (a call is live), completed, failed, skipped_dnc, canceled
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_call_id", Uuid, nullable=True),
    sa.Column("last_outcome", sa.String(32), nullable=True),
    sa.Column("retry_context", Json, nullable=True),
    sa.Column("errors", Json, nullable=True),
    sa.Column("attempt_day", sa.String(10), nullable=True),  # callee-local day of the attempts counted
    sa.Column("attempts_that_day", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("campaign_id", "phone_number"),
    sa.Index("ix_campaign_contacts_due", "campaign_id", "state", "next_attempt_at"),
    sa.Index("ix_campaign_contacts_row", "campaign_id", "row_number"),
)


events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("call_id", Uuid, nullable=True),
    sa.Column("campaign_id", Uuid, nullable=True),
    sa.Column("agent_id", Uuid, nullable=True),
    sa.Column("data", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Index("ix_events_pending", "processed_at", "created_at"),
    sa.Index("ix_events_call", "call_id"),
)

webhook_targets = sa.Table(
    "webhook_targets",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("agent_id", Uuid, sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", Json, nullable=False),
    sa.Column("include_transcript", sa.Boolean, nullable=False),
    sa.Column("include_recording", sa.Boolean, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhook_targets_agent", "agent_id", "enabled"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("event_id", Uuid, nullable=False),
    sa.Column("target_id", Uuid, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("call_id", Uuid, nullable=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(1000), nullable=True),
    sa.Column("attempt_log", Json, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("event_id", "target_id"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_org_created", "org_id", "created_at", "id"),
)

context_cache = sa.Table(
    "context_cache",
    metadata,
    sa.Column("org_id", Uuid, primary_key=True),
    sa.Column("agent_id", Uuid, primary_key=True),
    sa.Column("contact_key", sa.String(200), primary_key=True),
    sa.Column("variables", Json, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("key_id", Uuid, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_dashboard_sessions_expires", "expires_at"),
)
"""Dashboard sign-ins: the cookie's token is stored only as a SHA-256 hash."""
