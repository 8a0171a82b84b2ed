"""The gateway's tables (SQLAlchemy Core). Migrations in `migrations/` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("plan", sa.String(100), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    # NULL tenant: the platform's admin key.
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), nullable=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.String(63), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("predictions_per_day", sa.BigInteger, nullable=False),
    sa.Column("requests_per_second", sa.Float, nullable=False),
    sa.Column("burst", sa.Integer, nullable=False),
    sa.Column("training_seconds_per_month", sa.BigInteger, nullable=False, default=0),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False, default=0),
)

# Metered usage per tenant and UTC day; gateway replicas add their counts to it.
usage = sa.Table(
    "usage",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("predictions", sa.BigInteger, nullable=False),
    sa.Column("requests", sa.BigInteger, nullable=False),
)

# Predictions of a tenant's day leased to a replica, which admits them locally until `expire_time`;
# a lease past its end counts for nothing (its replica stopped using it then).
prediction_leases = sa.Table(
    "prediction_leases",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("replica", sa.String(200), primary_key=True),
    sa.Column("held", sa.BigInteger, nullable=False),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
)
