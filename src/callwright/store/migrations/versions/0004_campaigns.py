"""campaigns and their rows; process roles on the runners table

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callwright.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = callwright.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("media_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("media_capacity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("media_live", sa.Integer(), nullable=True))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_contact_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_calls_campaign_status", ["campaign_id", "status"], unique=False)
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("context", sa.JSON(), nullable=True),
        sa.Column("call_source", sa.String(length=200), nullable=False),
        sa.Column("calling_window", sa.JSON(), nullable=False),
        sa.Column("retry", sa.JSON(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("max_attempts_per_day", sa.Integer(), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("start_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("completed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_campaigns_org_id_organizations")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_campaigns_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_org_created", "campaigns", ["org_id", "created_at", "id"], unique=False)
    op.create_index("ix_campaigns_status", "campaigns", ["status"], unique=False)
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("last_call_id", sa.Uuid(), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("retry_context", sa.JSON(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("attempt_day", sa.String(length=10), nullable=True),
        sa.Column("attempts_that_day", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_contacts_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint("campaign_id", "phone_number", name=op.f("uq_campaign_contacts_campaign_id_phone_number")),
    )
    op.create_index(
        "ix_campaign_contacts_due", "campaign_contacts", ["campaign_id", "state", "next_attempt_at"], unique=False
    )
    op.create_index("ix_campaign_contacts_row", "campaign_contacts", ["campaign_id", "row_number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_campaign_contacts_row", table_name="campaign_contacts")
    op.drop_index("ix_campaign_contacts_due", table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_index("ix_campaigns_org_created", table_name="campaigns")
    op.drop_table("campaigns")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_campaign_status")
        batch_op.drop_column("campaign_contact_id")
    with op.batch_alter_table("runners", schema=None) as batch_op:
        batch_op.drop_column("media_live")
        batch_op.drop_column("media_capacity")
        batch_op.drop_column("media_url")
        batch_op.drop_column("roles")
