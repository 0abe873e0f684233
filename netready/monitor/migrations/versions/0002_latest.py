"""The `latest` table: each portal's latest scan (pointer to its newest run and the one before, with that run's facts
and state copied, and its rule samples for /metrics), so `status` and `/metrics` of a whole fleet read one row
per portal by key instead of joining the runs table. Back-filled from the pointers portals had (last_run_id,
prev_run_id), which move here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COPIED = ("run_id", "prev_run_id", "view", "state_id", "finding_set_id", "evidence_id", "first_at", "last_at",
          "scans", "status", "score", "failed_required", "error", "cert_expires", "cert_lifetime_s", "rrsig_expires",
          "reachable", "changes")


def upgrade() -> None:
    op.create_table(
        "latest",
        sa.Column("portal_id", sa.Integer(), sa.ForeignKey("portals.id"), primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("prev_run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("view", sa.String(64), nullable=False),
        sa.Column("state_id", sa.Integer(), sa.ForeignKey("states.id"), nullable=False),
        sa.Column("finding_set_id", sa.Integer(), sa.ForeignKey("finding_sets.id"), nullable=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=True),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("failed_required", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cert_expires", sa.BigInteger(), nullable=True),
        sa.Column("cert_lifetime_s", sa.BigInteger(), nullable=True),
        sa.Column("rrsig_expires", sa.BigInteger(), nullable=True),
        sa.Column("reachable", sa.Boolean(), nullable=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("rule_lines", sa.Text(), nullable=False),
    )
    op.execute(
        "INSERT INTO latest (portal_id, " + ", ".join(COPIED) + ", rule_lines) "
        "SELECT p.id, r.id, p.prev_run_id, r.view, r.state_id, s.finding_set_id, r.evidence_id, r.first_at, "
        "r.last_at, r.scans, s.status, s.score, s.failed_required, s.error, r.cert_expires, r.cert_lifetime_s, "
        "r.rrsig_expires, r.reachable, r.changes, '' "
        "FROM portals p JOIN runs r ON r.id = p.last_run_id JOIN states s ON s.id = r.state_id")
    _fill_rule_lines()
    with op.batch_alter_table("portals", recreate="never") as batch:  # SQLite >= 3.35 drops columns in place
        batch.drop_column("last_run_id")
        batch.drop_column("prev_run_id")


def _fill_rule_lines() -> None:
    """Each latest row's rule samples, from its finding set (once per distinct set)."""
    from netready.monitor.metrics import rule_lines

    conn = op.get_bind()
    set_ids = [i for (i,) in conn.execute(sa.text("SELECT DISTINCT finding_set_id FROM latest "
                                                  "WHERE finding_set_id IS NOT NULL ORDER BY 1"))]
    for chunk in range(0, len(set_ids), 500):
        ids = set_ids[chunk:chunk + 500]
        rows: dict[int, list[tuple[str, str, str]]] = {i: [] for i in ids}
        query = sa.text("SELECT set_id, rule, subject, verdict FROM findings WHERE set_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True))
        for set_id, rule, subject, verdict in conn.execute(query, {"ids": ids}):
            rows[set_id].append((rule, subject, verdict))
        conn.execute(sa.text("UPDATE latest SET rule_lines = :text WHERE finding_set_id = :id"),
                     [{"id": i, "text": rule_lines(r)} for i, r in rows.items()])


def downgrade() -> None:
    with op.batch_alter_table("portals", recreate="never") as batch:
        batch.add_column(sa.Column("last_run_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_run_id", sa.Integer(), nullable=True))
    op.execute("UPDATE portals SET last_run_id = (SELECT run_id FROM latest WHERE latest.portal_id = portals.id), "
               "prev_run_id = (SELECT prev_run_id FROM latest WHERE latest.portal_id = portals.id)")
    op.drop_table("latest")
