"""Routes of sessions (External Chat Logs) and the opt-out list, on the API blueprint (app.py imports this module
before it registers the blueprint)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api import http
from chalicelib.api.routes import ANY_TYPES, _request, endpoint
from chalicelib.services import optouts
from chalicelib.services.deps import Deps


# ---------------------------------------------------------------------------------------------------- opt-outs
@endpoint("/v1/opt-outs", ["GET"])
def list_optouts(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(_request())
    return optouts.list_optouts(deps, tenant_id, limit, cursor)


@endpoint("/v1/opt-outs/{number}", ["PUT"], own_ids=True, content_types=ANY_TYPES)
def put_optout(deps: Deps, tenant_id: str, number: str) -> dict[str, Any]:
    return optouts.put_optout(deps, tenant_id, number)


@endpoint("/v1/opt-outs/{number}", ["DELETE"], own_ids=True)
def delete_optout(deps: Deps, tenant_id: str, number: str) -> Response:
    optouts.delete_optout(deps, tenant_id, number)
    return http.no_content()
