"""Tenants (one per PBX) and their API keys."""

from __future__ import annotations

import hashlib
import secrets as pysecrets

from chalicelib.domain.errors import UnauthorizedError
from chalicelib.domain.model import utc_iso
from chalicelib.domain.tenants import Tenant
from chalicelib.services.deps import Deps


def hash_key(api_key: str) -> str:
    """The stored form of an API key: keys are long random tokens, so one SHA-256 suffices."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A fresh API key."""
    return "mck_" + pysecrets.token_urlsafe(32)


def create_tenant(deps: Deps, name: str, api_key: str | None = None) -> tuple[str, str]:
    """A new tenant; returns its id and API key (shown once: only the hash is kept)."""
    tenant_id = deps.ids.new("tn")
    key = api_key or new_api_key()
    now = utc_iso(deps.clock.utcnow()) or ""
    deps.tenants.create(Tenant(tenant_id=tenant_id, name=name, api_key_hash=hash_key(key), created_at=now))
    return tenant_id, key


def rotate_key(deps: Deps, tenant_id: str) -> str:
    """Issue a new key for the tenant; the old one stops working at once."""
    key = new_api_key()
    deps.tenants.rotate_key(tenant_id, hash_key(key), utc_iso(deps.clock.utcnow()) or "")
    return key


def authenticate(deps: Deps, authorization: str | None) -> str:
    """The tenant id for an `Authorization: Bearer <key>` header, or 401."""
    if not authorization:
        raise UnauthorizedError("missing Authorization: Bearer <api key> header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("the Authorization header must be 'Bearer <api key>'")
    if not token.isascii() or len(token) > 512:
        raise UnauthorizedError("the API key is not valid")
    tenant_id = deps.tenants.tenant_for_key(hash_key(token))
    if tenant_id is None:
        raise UnauthorizedError("the API key is not valid")
    return tenant_id
