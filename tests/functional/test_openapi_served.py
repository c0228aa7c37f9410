"""GET /v1/openapi.json serves the document, and real answers match the document's response schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from chalicelib.api.openapi import document
from tests.conftest import PUBLIC_BASE, Api, campaign_body


def _check(doc: dict[str, Any], component: str, instance: Any) -> None:
    """Validate `instance` against a component schema of the served document (refs resolved within it)."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
    errors = sorted(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_openapi_document_is_served_with_a_key(api: Api) -> None:
    # WHEN the PBX asks for the document with its key
    status, body = api.call("GET", "/v1/openapi.json")
    # THEN it is the document, with this deployment as its server
    assert status == 200
    assert body == document(PUBLIC_BASE)
    assert body["servers"][0]["url"] == PUBLIC_BASE
    assert "/v1/campaigns" in body["paths"]


def test_openapi_document_needs_a_key(api: Api) -> None:
    status, body = api.call("GET", "/v1/openapi.json", headers={"Authorization": ""})
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_answers_match_the_documented_response_schemas(api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN the served document
    _, doc = api.call("GET", "/v1/openapi.json")
    # WHEN channels, campaigns (sent, draft, scheduled), recipients and errors are answered
    _check(doc, "Channel", channel)
    _, channels = api.call("GET", "/v1/channels")
    _check(doc, "ChannelList", channels)
    status, sent = api.call("POST", "/v1/campaigns", campaign_body(["+41415084545", "+15005550001"], channel["id"]))
    assert status == 201, sent
    pump.drain()
    status, draft = api.call(
        "POST", "/v1/campaigns", campaign_body(["+41415084545"], channel["id"], send_time={"type": "draft"})
    )
    assert status == 201, draft
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    when = {"type": "scheduled", "at": at}
    body = campaign_body(["+41415084545"], channel["id"], send_time=when)
    status, scheduled = api.call("POST", "/v1/campaigns", body)
    assert status == 201, scheduled
    _check(doc, "Campaign", scheduled)
    _check(doc, "Campaign", draft)
    _, done = api.call("GET", f"/v1/campaigns/{sent['id']}")
    assert done["status"] == "completed"
    _check(doc, "Campaign", done)
    _, listed = api.call("GET", "/v1/campaigns?limit=1")
    _check(doc, "CampaignList", listed)
    assert listed["next_cursor"]
    _, recipients = api.call("GET", f"/v1/campaigns/{sent['id']}/recipients")
    _check(doc, "RecipientList", recipients)
    assert {r["status"] for r in recipients["items"]} == {"sent", "failed"}
    assert any(r["error"] for r in recipients["items"])
    _, health = api.call("GET", "/v1/health")
    _check(doc, "Health", health)
    _, missing = api.call("GET", "/v1/campaigns/cmp_nope")
    _check(doc, "Error", missing)
    # THEN the channel answered with credentials nowhere in it
    assert "credentials" not in channel and "auth_token" not in str(channels)
