"""Accounts over HTTP: registration, sign-in and sign-out with a session cookie, and the check
every request made with the cookie passes before the REST twin forwards it. (Invitations and keys
are AdminService RPCs, which a signed-in owner reaches through the REST twin with the cookie.)

The cookie is HttpOnly (scripts cannot read it), SameSite=Strict (browsers do not send it from
another site) and Secure when the port speaks TLS. CSRF: every state-changing request made with
the cookie carries `x-csrf-token`, a random token handed out once at sign-in and bound to the
session (the database keeps its sha256), and, when the browser sends `Origin`, comes from this
origin. A token bound to the session on the server side was chosen over the double-submit cookie
because a cookie can be planted by a sibling subdomain or over plain HTTP, and over an Origin check
alone because some clients send no `Origin`.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from services.common.errors import DomainError, InvalidArgument, PermissionDenied, Unauthenticated
from services.gateway.accounts import Accounts, Session, SignedIn
from services.gateway.rest.transcoding import decode_json

audit = structlog.get_logger("maas.audit")
COOKIE = "maas_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a caller reaches with no credentials at all (then nothing else).
OPEN_PATHS = frozenset(
    {("POST", "/v1/accounts:register"), ("POST", "/v1/sessions"), ("POST", "/v1/accounts:resetPassword")}
)
# What the guard found behind a request's cookie, for the handlers and the forwarded call.
SESSION = web.RequestKey("session", Session)
SESSION_TOKEN = web.RequestKey("session_token", str)
# scrypt takes 128 MiB and a good part of a second per hash: at most this many at once.
_HASHING = 2


def _refuse_other_origin(request: web.Request, what: str) -> None:
    """A browser's request from another site is refused: `Origin`, when sent, must be this one."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise PermissionDenied(f"{what} from another origin ({origin}) is refused")


def _session_json(session: Session) -> dict:
    return {
        "user": f"users/{session.user_id}",
        "email": session.email,
        "tenant": f"tenants/{session.tenant}",
        "role": session.role,
        "expireTime": session.expire_time.isoformat().replace("+00:00", "Z"),
    }


def _operation(summary: str, fields: dict[str, str] | None, response: dict, open_path: bool = False) -> dict:
    error = {
        "description": "An error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    operation: dict = {
        "tags": ["Accounts"],
        "summary": summary,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object", "properties": response}}},
            },
            "default": error,
        },
    }
    if fields is not None:
        properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
        schema = {"type": "object", "properties": properties}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if open_path:
        operation["security"] = []
    return operation


def openapi_paths() -> dict:
    """The account paths, for /openapi.json."""
    text = {"type": "string"}
    who = {name: text for name in ("user", "email", "tenant", "role", "expireTime")}
    return {
        "/v1/accounts:register": {
            "post": _operation(
                "Register (with an invitation, or where the operator lets anyone register)",
                {
                    "email": "the account's email",
                    "password": "12 to 1024 characters",
                    "invitationToken": "an owner's or the operator's invitation",
                    "tenantId": "the new tenant's id, when registering without an invitation",
                },
                {"user": text, "tenant": text, "role": text},
                open_path=True,
            )
        },
        "/v1/sessions": {
            "post": _operation(
                "Sign in: sets the session cookie; the CSRF token comes in the body",
                {"email": "", "password": "", "tenant": "tenants/{tenant}, when a member of several"},
                {**who, "csrfToken": text},
                open_path=True,
            )
        },
        "/v1/accounts:changePassword": {
            "post": _operation(
                "Change the signed-in user's password (needs x-csrf-token); their other sessions end",
                {"currentPassword": "", "newPassword": "12 to 1024 characters"},
                {},
            )
        },
        "/v1/accounts:resetPassword": {
            "post": _operation(
                "Set a new password with an operator's reset token; the account's sessions end",
                {"token": "from AdminService.CreatePasswordReset", "newPassword": "12 to 1024 characters"},
                {},
                open_path=True,
            )
        },
        "/v1/sessions/current": {
            "get": _operation("The signed-in session", None, who),
            "delete": _operation("Sign out (needs x-csrf-token)", None, {}),
        },
    }


class SessionCookies:
    """The account endpoints, and the session behind a request's cookie."""

    def __init__(self, accounts: Accounts, secure: bool, failed, changed) -> None:
        self.accounts = accounts
        self._changed = changed  # async (): sessions changed, tell the services' credential watches
        self._secure = secure
        self._failed = failed  # DomainError -> the HTTP error answer
        self._hashing = asyncio.Semaphore(_HASHING)

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/accounts:register", self._register)
        app.router.add_post("/v1/sessions", self._sign_in)
        app.router.add_get("/v1/sessions/current", self._current)
        app.router.add_delete("/v1/sessions/current", self._sign_out)
        app.router.add_post("/v1/accounts:changePassword", self._change_password)
        app.router.add_post("/v1/accounts:resetPassword", self._reset_password)

    # the check before every handler

    async def authenticate(self, request: web.Request) -> None:
        """A request with the cookie and no key: its live session, and the CSRF checks if it changes
        anything. The session's token then authenticates the forwarded gRPC call like a key."""
        token = request.cookies.get(COOKIE, "")
        session = await asyncio.to_thread(self.accounts.session, token) if token else None
        if session is None:
            raise Unauthenticated("no valid session: sign in again")
        if request.method not in SAFE_METHODS:
            _refuse_other_origin(request, "a request with the session cookie")
            self.accounts.check_csrf(session, request.headers.get(CSRF_HEADER))
        request[SESSION] = session
        request[SESSION_TOKEN] = token

    # endpoints

    async def _fields(self, request: web.Request, *names: str) -> list[str]:
        # The open endpoints take no cookie, so no CSRF token either: a page on another site could
        # still post a form to them (signing a victim's browser in as the attacker, say), which
        # its Origin gives away.
        _refuse_other_origin(request, "a request to the account endpoints")
        body = decode_json(await request.read()) if request.can_read_body else {}
        if not isinstance(body, dict):
            raise InvalidArgument("body: a JSON object")
        values = [body.get(name, "") for name in names]
        for name, value in zip(names, values, strict=True):
            if not isinstance(value, str):
                raise InvalidArgument(f"{name}: a string")
        return values

    async def _register(self, request: web.Request) -> web.Response:
        try:
            email, password, invitation, tenant_id = await self._fields(
                request, "email", "password", "invitationToken", "tenantId"
            )
            async with self._hashing:
                user_id = await asyncio.to_thread(self.accounts.register, email, password, invitation, tenant_id)
            tenants = await asyncio.to_thread(self.accounts.store.memberships, user_id)
        except DomainError as error:
            return self._failed(error)
        audit.info("account registered", user=user_id, tenant=tenants[0][0], role=tenants[0][1])
        return web.json_response(
            {"user": f"users/{user_id}", "tenant": f"tenants/{tenants[0][0]}", "role": tenants[0][1]}
        )

    async def _sign_in(self, request: web.Request) -> web.Response:
        address = request.remote or "unknown"
        try:
            email, password, tenant = await self._fields(request, "email", "password", "tenant")
            async with self._hashing:
                signed_in: SignedIn = await asyncio.to_thread(
                    self.accounts.sign_in, email, password, address, tenant.removeprefix("tenants/")
                )
        except DomainError as error:
            audit.info("sign-in refused", address=address, code=error.code.name)
            return self._failed(error)
        session = signed_in.session
        audit.info("signed in", user=session.user_id, tenant=session.tenant, session=session.session_id)
        await self._changed()
        response = web.json_response({**_session_json(session), "csrfToken": signed_in.csrf_token})
        response.set_cookie(
            COOKIE,
            signed_in.token,
            max_age=int(self.accounts.session_ttl.total_seconds()),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self._secure,
        )
        return response

    async def _change_password(self, request: web.Request) -> web.Response:
        session = request.get(SESSION)
        try:
            if session is None:
                raise Unauthenticated("changing a password takes the session cookie, not an API key")
            current, new = await self._fields(request, "currentPassword", "newPassword")
            async with self._hashing:
                await asyncio.to_thread(
                    self.accounts.change_password, session, current, new, request.remote or "unknown"
                )
        except DomainError as error:
            return self._failed(error)
        audit.info("password changed", user=session.user_id)
        await self._changed()
        return web.json_response({})

    async def _reset_password(self, request: web.Request) -> web.Response:
        try:
            token, new = await self._fields(request, "token", "newPassword")
            async with self._hashing:
                await asyncio.to_thread(self.accounts.reset_password, token, new)
        except DomainError as error:
            return self._failed(error)
        audit.info("password reset")
        await self._changed()
        return web.json_response({})

    async def _current(self, request: web.Request) -> web.Response:
        session = request.get(SESSION)
        if session is None:
            return self._failed(Unauthenticated("this path takes the session cookie, not an API key"))
        return web.json_response(_session_json(session))

    async def _sign_out(self, request: web.Request) -> web.Response:
        session = request.get(SESSION)
        if session is None:
            return self._failed(Unauthenticated("this path takes the session cookie, not an API key"))
        await asyncio.to_thread(self.accounts.sign_out, session)
        await self._changed()
        audit.info("signed out", user=session.user_id, session=session.session_id)
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/", secure=self._secure, httponly=True, samesite="Strict")
        return response
