"""hazards per case, the clock profile each case was opened under, work orders (issue 15, Awaab's Law)

Cases opened before this have no ``case_clock`` row: their clocks are the England social profile's, as
they always were. Cases get no hazard rows here; the case pages and the export treat a case without one
as damp and mould (every case so far was), so nothing is lost.

Revision ID: 0008_e
Revises: 0007_d
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_e"
down_revision = "0007_d"
branch_labels = None
depends_on = None

HAZARD_CODES = (
    "damp_and_mould", "excess_cold", "excess_heat", "asbestos_and_mmf", "biocides", "carbon_monoxide", "lead",
    "radiation", "uncombusted_fuel_gas", "volatile_organic_compounds", "crowding_and_space", "entry_by_intruders",
    "lighting", "noise", "domestic_hygiene", "food_safety", "personal_hygiene", "water_supply", "falls_baths",
    "falls_level", "falls_stairs", "falls_between_levels", "electrical", "fire", "flames_hot_surfaces",
    "collision_entrapment", "explosions", "amenities", "structural_collapse",
)
WORK_ORDER_STATUSES = ("raised", "scheduled", "in_progress", "completed", "cancelled", "no_access")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "case_hazard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hazard", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=6), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=254), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=254), nullable=True),
        sa.CheckConstraint(_in("hazard", HAZARD_CODES), name=op.f("ck_case_hazard_hazard_known")),
        sa.CheckConstraint(_in("severity", ("high", "medium", "low")), name=op.f("ck_case_hazard_severity_known")),
        sa.ForeignKeyConstraint(["case_id"], ["damp_case.id"], name=op.f("fk_case_hazard_case_id_damp_case"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_hazard")),
    )
    op.create_index(op.f("ix_case_hazard_case_id"), "case_hazard", ["case_id"], unique=False)
    op.create_table(
        "case_clock",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=30), nullable=False),
        sa.Column("rules_version", sa.String(length=200), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["damp_case.id"], name=op.f("fk_case_clock_case_id_damp_case"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_clock")),
    )
    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_text", sa.String(length=255), nullable=False),
        sa.Column("contractor", sa.String(length=100), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("planned_finish", sa.Date(), nullable=True),
        sa.Column("actual_start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_completion_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("status", WORK_ORDER_STATUSES), name=op.f("ck_work_order_status_known")),
        sa.ForeignKeyConstraint(["case_id"], ["damp_case.id"], name=op.f("fk_work_order_case_id_damp_case"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order")),
        sa.UniqueConstraint("reference", name=op.f("uq_work_order_reference")),
    )
    op.create_index(op.f("ix_work_order_case_id"), "work_order", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_order_case_id"), table_name="work_order")
    op.drop_table("work_order")
    op.drop_table("case_clock")
    op.drop_index(op.f("ix_case_hazard_case_id"), table_name="case_hazard")
    op.drop_table("case_hazard")
