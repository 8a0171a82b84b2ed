"""Tenants and API keys: the gateway's domain logic and persistence. Secrets are stored
only as sha256 hashes (keys are long random strings, so a fast hash is enough)."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from maas.api.v1 import annotations_pb2 as api_pb
from maas.gateway.v1 import admin_pb2 as pb
from services.common.credentials import Principal, hash_secret
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.timeutil import now, set_timestamp, utc
from services.common.validation import check_id, decode_page_token, encode_page_token
from services.gateway import tables as t
from services.gateway.account_store import AccountStore
from services.gateway.invoice_store import InvoiceStore
from services.gateway.plan_store import PlanStore, plan_message
from services.gateway.usage_store import UsageStore

Scope = api_pb.Scope
ALL_SCOPES = frozenset(v for v in Scope.values() if v != Scope.SCOPE_UNSPECIFIED)
DEFAULT_SCOPES = frozenset({Scope.SCOPE_READ, Scope.SCOPE_PREDICT, Scope.SCOPE_TRAIN})
KEY_PREFIX = "maas_"
ADMIN_KEY_ID = "admin"


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class GatewayStore(PlanStore, UsageStore, InvoiceStore):
    """Tenants, keys and credentials here; plans (`plan_store`), usage (`usage_store`), plan changes
    and invoices (`invoice_store`) mixed in."""

    def __init__(self, engine: Engine, session_idle: dt.timedelta = dt.timedelta(minutes=30)) -> None:
        self.engine = engine
        self.accounts = AccountStore(engine, session_idle)

    # tenants
    @staticmethod
    def _tenant_message(row) -> pb.Tenant:
        tenant = pb.Tenant(name=f"tenants/{row.tenant_id}", display_name=row.display_name, plan=row.plan)
        tenant.create_time.FromDatetime(utc(row.create_time))
        return tenant

    def create_tenant(self, tenant_id: str, tenant: pb.Tenant) -> pb.Tenant:
        check_id(tenant_id, "tenant_id")
        plan = tenant.plan or "plans/free"
        if not plan.startswith("plans/"):
            raise InvalidArgument(f"tenant.plan: {plan!r} must look like plans/{{plan}}")
        self.get_plan(plan.removeprefix("plans/"))
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.tenants.insert().values(
                        tenant_id=tenant_id,
                        display_name=tenant.display_name or tenant_id,
                        plan=plan,
                        create_time=now(),
                    )
                )
        except IntegrityError:
            raise AlreadyExists(f"tenant {tenant_id!r} already exists") from None
        return self.get_tenant(tenant_id)

    def get_tenant(self, tenant_id: str) -> pb.Tenant:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return self._tenant_message(row)

    def list_tenants(self, page_size: int, page_token: str) -> tuple[list[pb.Tenant], str]:
        cursor = decode_page_token(page_token)
        query = sa.select(t.tenants).order_by(t.tenants.c.tenant_id).limit(page_size + 1)
        if cursor:
            query = query.where(t.tenants.c.tenant_id > str(cursor[0]))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        token = encode_page_token([rows[page_size - 1].tenant_id]) if len(rows) > page_size else ""
        return [self._tenant_message(r) for r in rows[:page_size]], token

    # keys
    @staticmethod
    def _key_message(row) -> pb.ApiKey:
        key = pb.ApiKey(
            name=f"tenants/{row.tenant_id}/apiKeys/{row.key_id}",
            display_name=row.display_name,
            prefix=row.prefix,
            scopes=row.scopes,
            owner=f"users/{row.owner_user_id}" if row.owner_user_id else "",
        )
        key.create_time.FromDatetime(utc(row.create_time))
        if row.expire_time:
            key.expire_time.FromDatetime(utc(row.expire_time))
        if row.revoke_time:
            key.revoke_time.FromDatetime(utc(row.revoke_time))
        set_timestamp(key.last_use_time, row.last_use_time)
        return key

    def create_api_key(self, tenant_id: str, key: pb.ApiKey, owner_user_id: str | None = None) -> tuple[pb.ApiKey, str]:
        """A new key of the tenant; `owner_user_id` is the user who asked for it (None: the operator)."""
        self.get_tenant(tenant_id)
        scopes = set(key.scopes) or set(DEFAULT_SCOPES)
        unknown = scopes - ALL_SCOPES
        if unknown:
            raise InvalidArgument(f"api_key.scopes: unknown scope values {sorted(unknown)}")
        if Scope.SCOPE_ADMIN in scopes:
            raise InvalidArgument("api_key.scopes: 'admin' belongs to the platform's admin key, not a tenant's")
        expire = key.expire_time.ToDatetime(tzinfo=dt.UTC) if key.HasField("expire_time") else None
        if expire is not None and expire <= now():
            raise InvalidArgument("api_key.expire_time: must be in the future")
        secret = new_secret()
        key_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(
                t.api_keys.insert().values(
                    key_id=key_id,
                    tenant_id=tenant_id,
                    display_name=key.display_name,
                    prefix=secret[: len(KEY_PREFIX) + 6],
                    secret_sha256=hash_secret(secret),
                    scopes=sorted(scopes),
                    create_time=now(),
                    expire_time=expire,
                    owner_user_id=owner_user_id,
                )
            )
            row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.key_id == key_id)).one()
        return self._key_message(row), secret

    def list_api_keys(self, tenant_id: str) -> list[pb.ApiKey]:
        self.get_tenant(tenant_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.api_keys).where(t.api_keys.c.tenant_id == tenant_id).order_by(t.api_keys.c.create_time)
            ).all()
        return [self._key_message(r) for r in rows]

    def revoke_api_key(self, tenant_id: str, key_id: str) -> pb.ApiKey:
        with self.engine.begin() as conn:
            query = sa.select(t.api_keys).where(t.api_keys.c.tenant_id == tenant_id, t.api_keys.c.key_id == key_id)
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(f"API key tenants/{tenant_id}/apiKeys/{key_id} not found")
            if row.revoke_time is None:
                conn.execute(t.api_keys.update().where(t.api_keys.c.key_id == key_id).values(revoke_time=now()))
            return self._key_message(conn.execute(query).one())

    def record_key_use(self, uses: dict[str, dt.datetime]) -> int:
        """Move each key's last use forward to the time given (one UPDATE a key; never back, so a
        replica flushing older uses late changes nothing). Returns how many keys moved."""
        moved = 0
        with self.engine.begin() as conn:
            for key_id, moment in sorted(uses.items()):
                last = t.api_keys.c.last_use_time
                moved += conn.execute(
                    t.api_keys.update()
                    .where(t.api_keys.c.key_id == key_id, sa.or_(last.is_(None), last < moment))
                    .values(last_use_time=moment)
                ).rowcount
        return moved

    def ensure_admin_key(self, secret: str) -> None:
        """Make `secret` the admin key (replacing an earlier one)."""
        with self.engine.begin() as conn:
            conn.execute(t.api_keys.delete().where(t.api_keys.c.key_id == ADMIN_KEY_ID))
            conn.execute(
                t.api_keys.insert().values(
                    key_id=ADMIN_KEY_ID,
                    tenant_id=None,
                    display_name="platform admin",
                    prefix=secret[:11],
                    secret_sha256=hash_secret(secret),
                    scopes=sorted(ALL_SCOPES),
                    create_time=now(),
                )
            )

    def has_admin_key(self) -> bool:
        with self.engine.connect() as conn:
            query = sa.select(t.api_keys.c.key_id).where(t.api_keys.c.key_id == ADMIN_KEY_ID)
            return conn.execute(query).first() is not None

    def find_principal(self, secret: str) -> Principal | None:
        """The key's principal if the key exists and is not revoked (expiry is checked by the caller),
        or a live console session's (its user acting in their tenant with their role)."""
        digest = hash_secret(secret)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.secret_sha256 == digest)).first()
        if row is None:
            return self.accounts.session_principal(digest)
        if row.revoke_time is not None:
            return None
        return Principal(row.key_id, row.tenant_id, frozenset(row.scopes), utc(row.expire_time))

    def credential_snapshot(self) -> pb.CredentialSnapshot:
        """Every key not revoked and every live session (hashes only), and every tenant's plan, for the services."""
        with self.engine.connect() as conn:
            keys = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.revoke_time.is_(None))).all()
            sessions = self.accounts.session_credentials(conn)
            tenants = conn.execute(sa.select(t.tenants.c.tenant_id, t.tenants.c.plan)).all()
            plans = {row.plan_id: plan_message(row) for row in conn.execute(sa.select(t.plans)).all()}
        snapshot = pb.CredentialSnapshot()
        snapshot.credentials.extend(self._credential(row) for row in sorted(keys, key=lambda r: r.key_id))
        snapshot.credentials.extend(sessions)
        for tenant_id, plan in tenants:
            snapshot.plans[tenant_id].CopyFrom(plans[plan.removeprefix("plans/")])
        return snapshot

    def lookup_credential(self, secret_sha256: str) -> pb.Credential:
        """One live key or session (and its tenant's plan) by its hash."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.api_keys).where(
                    t.api_keys.c.secret_sha256 == secret_sha256, t.api_keys.c.revoke_time.is_(None)
                )
            ).first()
            sessions = self.accounts.session_credentials(conn, secret_sha256) if row is None else []
        if row is None and not sessions:
            raise NotFound("no such API key")
        credential = self._credential(row) if row is not None else sessions[0]
        if credential.tenant:
            credential.plan.CopyFrom(self.plan_of(credential.tenant))
        return credential

    @staticmethod
    def _credential(row) -> pb.Credential:
        credential = pb.Credential(
            secret_sha256=row.secret_sha256,
            name=f"tenants/{row.tenant_id}/apiKeys/{row.key_id}" if row.tenant_id else f"apiKeys/{row.key_id}",
            tenant=row.tenant_id or "",
            scopes=row.scopes,
        )
        if row.expire_time:
            credential.expire_time.FromDatetime(utc(row.expire_time))
        return credential
