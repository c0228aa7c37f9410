"""The tenant's own settings (`GET|PATCH /v1/tenant`): where its events go, and the secret that signs them."""

from __future__ import annotations

import secrets as pysecrets
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import NotFoundError
from chalicelib.domain.event_urls import check_event_url
from chalicelib.domain.model import utc_iso
from chalicelib.domain.tenants import Tenant
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log


def new_event_secret() -> str:
    """A fresh event secret (shown once)."""
    return "mce_" + pysecrets.token_urlsafe(32)


def view(tenant: Tenant) -> dict[str, Any]:
    """The tenant as the API shows it (never a key hash or a secret)."""
    return {
        "id": tenant.tenant_id,
        "name": tenant.name,
        "event_url": tenant.event_url,
        "campaign_count": tenant.campaign_count,
        "created_at": tenant.created_at,
    }


def get_tenant(deps: Deps, tenant_id: str) -> dict[str, Any]:
    """The tenant's settings."""
    tenant = deps.tenants.get(tenant_id)
    if tenant is None:
        raise NotFoundError("no such tenant")
    return view(tenant)


def set_event_url(deps: Deps, tenant_id: str, event_url: str | None) -> dict[str, Any]:
    """Point the tenant's events at event_url (or nowhere, with None); the first time, the answer has event_secret.

    Order: the secret is kept first (CreateSecret, which exactly one of two racing first PATCHes wins), then the
    route, then the tenant item, so no event is ever put for delivery unsigned; a PATCH that dies half way leaves a
    route the next PATCH overwrites.
    """
    before = deps.tenants.get(tenant_id)
    if before is None:
        raise NotFoundError("no such tenant")
    if event_url is None:
        deps.events.unroute(tenant_id)
        tenant = deps.tenants.set_event_url(tenant_id, None)
        log.info("tenant events unrouted", extra={"tenant_id": tenant_id})
        return view(tenant)
    url = check_event_url(event_url, allow_local_http=deps.settings.allow_local_event_urls)
    secret = new_event_secret()
    if not deps.events.create_secret(tenant_id, secret):
        secret = deps.events.secret(tenant_id) or ""
    # A quota or an outage here is a 409 or 503 the PBX may act on; the secret kept above is answered by the first
    # PATCH that gets through (until then the tenant has no `events_since`), so a failed first PATCH loses nothing.
    deps.events.route(tenant_id, url)
    tenant = deps.tenants.set_event_url(tenant_id, url, utc_iso(deps.clock.utcnow()))
    log.info("tenant events routed", extra={"tenant_id": tenant_id, "event_url_host": urlsplit(url).hostname})
    answer = view(tenant)
    if before.events_since is None and secret:
        answer["event_secret"] = secret
    return answer
