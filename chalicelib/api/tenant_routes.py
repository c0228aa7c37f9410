"""Routes of the tenant itself (`GET|PATCH /v1/tenant`: where its events go), on the API blueprint (app.py imports
this module before it registers the blueprint)."""

from __future__ import annotations

from typing import Any

from chalicelib.api import http
from chalicelib.api.routes import api, endpoint
from chalicelib.api.schemas import parse
from chalicelib.api.tenant_schemas import TenantPatch
from chalicelib.services import tenant_settings
from chalicelib.services.deps import Deps


@endpoint("/v1/tenant", ["GET"])
def get_tenant(deps: Deps, tenant_id: str) -> dict[str, Any]:
    return tenant_settings.get_tenant(deps, tenant_id)


@endpoint("/v1/tenant", ["PATCH"])
def patch_tenant(deps: Deps, tenant_id: str) -> dict[str, Any]:
    patch = parse(TenantPatch, http.json_body(api.current_request))
    return tenant_settings.set_event_url(deps, tenant_id, patch.event_url)
