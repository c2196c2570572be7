"""events outbox, webhook targets and deliveries, dynamic context, analysis state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callwright.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callwright.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dynamic_context", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("render_errors", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("render_inputs", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("analysis_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("analysis_claimed_until", UTC, nullable=True))
        batch_op.create_index("ix_calls_analysis_state", ["analysis_state"], unique=False)
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_pending", "events", ["processed_at", "created_at"], unique=False)
    op.create_index("ix_events_call", "events", ["call_id"], unique=False)
    op.create_table(
        "webhook_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("include_transcript", sa.Boolean(), nullable=False),
        sa.Column("include_recording", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_webhook_targets_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_targets")),
    )
    op.create_index("ix_webhook_targets_agent", "webhook_targets", ["agent_id", "enabled"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", "target_id", name=op.f("uq_webhook_deliveries_event_id_target_id")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_org_created", "webhook_deliveries", ["org_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "context_cache",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("contact_key", sa.String(length=200), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "agent_id", "contact_key", name=op.f("pk_context_cache")),
    )


def downgrade() -> None:
    op.drop_table("context_cache")
    op.drop_index("ix_webhook_deliveries_org_created", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_targets_agent", table_name="webhook_targets")
    op.drop_table("webhook_targets")
    op.drop_index("ix_events_call", table_name="events")
    op.drop_index("ix_events_pending", table_name="events")
    op.drop_table("events")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_analysis_state")
        batch_op.drop_column("analysis_claimed_until")
        batch_op.drop_column("analysis_state")
        batch_op.drop_column("render_inputs")
        batch_op.drop_column("render_errors")
        batch_op.drop_column("dynamic_context")
