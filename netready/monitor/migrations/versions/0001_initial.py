"""The monitor's first schema: organisations, portals, runs of scans, states, findings, evidence, alerts, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "portals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(253), nullable=False, unique=True),
        sa.Column("display_name", sa.String(253), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("every_s", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("vantages", sa.String(500), nullable=False),
        sa.Column("next_due", sa.BigInteger(), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("prev_run_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_portals_org_id", "portals", ["org_id"])
    op.create_index("ix_portals_next_due", "portals", ["next_due"])
    op.create_table(
        "finding_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "findings",
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("finding_sets.id"), primary_key=True),
        sa.Column("pos", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
    )
    op.create_table(
        "states",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("failed_required", sa.Text(), nullable=False),
        sa.Column("error_required", sa.Text(), nullable=False),
        sa.Column("finding_set_id", sa.Integer(), sa.ForeignKey("finding_sets.id"), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("base_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("portal_id", sa.Integer(), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("view", sa.String(64), nullable=False),
        sa.Column("state_id", sa.Integer(), sa.ForeignKey("states.id"), nullable=False),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=True),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("cert_expires", sa.BigInteger(), nullable=True),
        sa.Column("cert_lifetime_s", sa.BigInteger(), nullable=True),
        sa.Column("rrsig_expires", sa.BigInteger(), nullable=True),
        sa.Column("reachable", sa.Boolean(), nullable=True),
        sa.Column("vantages", sa.String(500), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
    )
    op.create_index("ix_runs_portal_view_first", "runs", ["portal_id", "view", "first_at"])
    op.create_index("ix_runs_first_at", "runs", ["first_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("portal_id", sa.Integer(), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("open_sent", sa.Boolean(), nullable=False),
        sa.Column("resolve_sent", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered", sa.Text(), nullable=False),
    )
    op.create_index("ix_alerts_portal_id", "alerts", ["portal_id"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    for table in ("tokens", "alerts", "runs", "evidence", "states", "findings", "finding_sets", "portals",
                  "organisations"):
        op.drop_table(table)
