"""Routes of sessions (External Chat Logs) and the opt-out list, on the API blueprint (app.py imports this module
before it registers the blueprint)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api import http
from chalicelib.api.routes import ANY_TYPES, endpoint
from chalicelib.api.routes import _request as request
from chalicelib.services import optouts, sessions
from chalicelib.services.deps import Deps


def _session_query() -> dict[str, str]:
    """The listing's filters; a contact's `+` that the query string read as a space is a `+` again."""
    params = http.query(request())
    wanted: dict[str, str] = {k: params[k] for k in ("contact", "status", "campaign_id") if k in params}
    contact = wanted.get("contact")
    if contact is not None and contact.startswith(" ") and contact[1:].isdigit():
        wanted["contact"] = "+" + contact[1:]
    return wanted


@endpoint("/v1/sessions", ["GET"])
def list_sessions(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(request())
    return sessions.list_sessions(deps, tenant_id, _session_query(), limit, cursor)


@endpoint("/v1/sessions/{session_id}", ["GET"])
def get_session(deps: Deps, tenant_id: str, session_id: str) -> dict[str, Any]:
    return sessions.get_session(deps, tenant_id, session_id)


@endpoint("/v1/sessions/{session_id}/messages", ["GET"])
def list_session_messages(deps: Deps, tenant_id: str, session_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(request())
    return sessions.list_messages(deps, tenant_id, session_id, limit, cursor)


@endpoint("/v1/sessions/{session_id}/close", ["POST"], content_types=ANY_TYPES)
def close_session(deps: Deps, tenant_id: str, session_id: str) -> dict[str, Any]:
    return sessions.close_session(deps, tenant_id, session_id)


# ---------------------------------------------------------------------------------------------------- opt-outs
@endpoint("/v1/opt-outs", ["GET"])
def list_optouts(deps: Deps, tenant_id: str) -> dict[str, Any]:
    limit, cursor = http.page_params(request())
    return optouts.list_optouts(deps, tenant_id, limit, cursor)


@endpoint("/v1/opt-outs/{number}", ["PUT"], own_ids=True, content_types=ANY_TYPES)
def put_optout(deps: Deps, tenant_id: str, number: str) -> dict[str, Any]:
    return optouts.put_optout(deps, tenant_id, number)


@endpoint("/v1/opt-outs/{number}", ["DELETE"], own_ids=True)
def delete_optout(deps: Deps, tenant_id: str, number: str) -> Response:
    optouts.delete_optout(deps, tenant_id, number)
    return http.no_content()
