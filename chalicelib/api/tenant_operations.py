"""The documented operations of the tenant itself (operations.py adds them to the route table)."""

from __future__ import annotations

from chalicelib.api.operation import Operation
from chalicelib.api.tenant_schemas import TenantAnswer, TenantPatch

EVENTS = (
    "Events go on the service's EventBridge bus and, for a tenant with an `event_url`, are POSTed there by an "
    "EventBridge rule and API destination (retried for up to 24 hours, then kept in a dead-letter queue). The body "
    'is JSON `{"id", "type", "time", "detail"}`: `id` is stable per event (de-duplicate on it: a retry delivers '
    "the same id), `type` one of `Campaign Status Changed` `{tenant_id, campaign_id, status, result}`, "
    "`Session Opened` `{tenant_id, session_id, contact, routing_target, campaign_id}`, `Message Received` "
    "`{tenant_id, session_id, message_id, contact, text}`, `Contact Opted Out` / `Contact Opted In` "
    "`{tenant_id, number, source}`. Header `X-Msgcampaigns-Signature: sha256=<hex HMAC-SHA256 of the body's bytes "
    "with the event secret>`; header `X-Msgcampaigns-Tenant` names the tenant."
)

TENANT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/v1/tenant",
        "getTenant",
        "tenant",
        "The tenant the key belongs to, and where its events go.",
        {200: ("The tenant.", TenantAnswer)},
    ),
    Operation(
        "PATCH",
        "/v1/tenant",
        "updateTenant",
        "tenant",
        "Set (or with null remove) the tenant's `event_url`; the first that sets it answers `event_secret`, once.",
        {
            200: (
                "The tenant as changed; `event_secret` only in the answer to the first PATCH that sets an event_url "
                "and succeeds.",
                TenantAnswer,
            )
        },
        {
            422: (
                "`invalid_event_url`: not an https URL EventBridge can call (plain http only for 127.0.0.1 on the "
                "local stack; no user info or fragment; a DNS name; at most 2,048 characters). Nothing is changed.",
                "invalid_event_url",
            ),
            409: (
                "`event_routes_limit_reached`: EventBridge takes no more tenant routes in this account (its rules per "
                "bus or API destinations quota); nothing is changed, and the secret is answered by the first PATCH "
                "that gets through.",
                "event_routes_limit_reached",
            ),
            503: "TryAgain",
        },
        description=EVENTS,
        body=TenantPatch,
    ),
)
