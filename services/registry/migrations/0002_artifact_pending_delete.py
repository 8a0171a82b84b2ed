"""Artifacts flagged for deletion, so deleting a model reclaims its bytes even across a crash.

Revision ID: registry_0002
Revises: registry_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("pending_delete", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_model_versions_artifact", "model_versions", ["artifact_sha256"])
    op.create_index("ix_datasets_sha256", "datasets", ["tenant", "sha256"])


def downgrade() -> None:
    op.drop_index("ix_datasets_sha256", "datasets")
    op.drop_index("ix_model_versions_artifact", "model_versions")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("pending_delete")
