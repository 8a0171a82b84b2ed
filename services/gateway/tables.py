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
    # The user who created the key (NULL: the operator's admin key made it).
    sa.Column("owner_user_id", sa.String(32), nullable=True),
    # When a gateway last authenticated a call with the key, to within key_use_flush_seconds (key_use.py).
    sa.Column("last_use_time", sa.DateTime(timezone=True), nullable=True),
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
    # Billing (`billing.py`): free, paid or mixed; amounts in the currency's smallest unit.
    sa.Column("kind", sa.String(16), nullable=False, default="free"),
    sa.Column("currency", sa.String(3), nullable=False, default="USD"),
    sa.Column("monthly_fee", sa.BigInteger, nullable=False, default=0),
    # [{"meter", "included", "unit_amount", "per_units"}]
    sa.Column("prices", sa.JSON, nullable=False, default=list),
)

# Metered usage per tenant and UTC day; gateway replicas add their counts to it.
usage = sa.Table(
    "usage",
    metadata,
    sa.Column("tenant_id", sa.String(63), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    # Prediction rows, and the calls they came in.
    sa.Column("predictions", sa.BigInteger, nullable=False),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("prediction_calls", sa.BigInteger, nullable=False, default=0),
    # Samples of the trainer's and registry's figures: training seconds of the month so far, and the
    # most bytes stored that day (what stored GB-days are billed from).
    sa.Column("training_seconds", sa.BigInteger, nullable=False, default=0),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False, default=0),
)

# A tenant's plan changes: `plan` from `day` on (one change a day; the last one of the day counts).
plan_changes = sa.Table(
    "plan_changes",
    metadata,
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("from_plan", sa.String(100), nullable=False),
    sa.Column("plan", sa.String(100), nullable=False),
    sa.Column("change_time", sa.DateTime(timezone=True), nullable=False),
)

# Issued invoices (a past UTC month's), written once: `body` is the serialized `Invoice`.
invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("issue_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
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

# People who sign in to the console (`accounts.py`). Only a scrypt hash of the password is kept.
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
)

# A user's role inside a tenant: owner, developer, viewer or billing (`accounts.ROLES`).
memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
)

# Console sessions: the token (and its CSRF token) stored as sha256 only; a session is a credential
# like a key (in the snapshot, with its role's scopes) until it expires or is revoked (sign-out).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_id", sa.String(32), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_sha256", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
    # When the session last authenticated a request (NULL: not since sign-in), for the idle timeout.
    sa.Column("last_seen_time", sa.DateTime(timezone=True), nullable=True),
)

# Failed sign-ins per subject (`account:<email>` or `address:<ip>`) since the last success.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("subject", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
)

# An invitation to join a tenant with a role, from an owner (`invited_by`) or the operator (NULL);
# the token (its sha256 kept) is passed on by hand.
invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("invited_by", sa.String(32), sa.ForeignKey("users.user_id"), nullable=True),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("accept_time", sa.DateTime(timezone=True), nullable=True),
)

# An operator's one-use token that sets a new password for a user (its sha256 kept).
password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("use_time", sa.DateTime(timezone=True), nullable=True),
)

# A tenant's monthly budget (smallest currency unit).
budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("monthly_amount", sa.BigInteger, nullable=False),
)

# The budget thresholds (80, 100 percent) a tenant's month reached: each is an event once a month.
budget_events = sa.Table(
    "budget_events",
    metadata,
    sa.Column("tenant_id", sa.String(63), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("percent", sa.Integer, primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
)

# What people and keys did to a tenant's accounts, keys and members (`audit.py`); never a secret.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    # NULL: an event of no tenant (a sign-in with an unknown email).
    sa.Column("tenant_id", sa.String(63), nullable=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(300), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
)
