"""Aliases with weighted targets, a shadow, a rollout and the reason of their last change; alias events keep
the state they set, so an alias's history can be read back and rolled back to.

Revision ID: registry_0005
Revises: registry_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0005"
down_revision = "registry_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("aliases") as batch:
        # NULL for an alias set before splits existed: all traffic to `version`.
        batch.add_column(sa.Column("targets", sa.JSON, nullable=True))
        batch.add_column(sa.Column("shadow", sa.JSON, nullable=True))
        batch.add_column(sa.Column("reason", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("rollout", sa.JSON, nullable=True))
        batch.add_column(sa.Column("payload_log_percent", sa.Float, nullable=False, server_default="0"))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("alias_state", sa.JSON, nullable=True))
        batch.create_index("ix_events_tenant_model_alias", ["tenant", "model_id", "alias", "revision"])


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_tenant_model_alias")
        batch.drop_column("alias_state")
    with op.batch_alter_table("aliases") as batch:
        batch.drop_column("payload_log_percent")
        batch.drop_column("rollout")
        batch.drop_column("reason")
        batch.drop_column("shadow")
        batch.drop_column("targets")
