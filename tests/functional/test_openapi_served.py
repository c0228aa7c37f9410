"""GET /v1/openapi.json serves the document, and real answers match the document's response schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
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
    # WHEN channels, phonebooks, campaigns (sent, draft, scheduled), recipients and errors are answered
    _check(doc, "Channel", channel)
    _, channels = api.call("GET", "/v1/channels")
    _check(doc, "ChannelList", channels)
    contacts = [{"name": "Alice", "numbers": {"mobile": "+41791234567"}}, {"numbers": {}}]
    status, phonebook = api.call("PUT", "/v1/phonebooks/pb-1", {"name": "Team", "contacts": contacts})
    assert status == 201, phonebook
    _check(doc, "Phonebook", phonebook)
    _check(doc, "Phonebook", api.call("GET", "/v1/phonebooks/pb-1")[1])
    _check(doc, "PhonebookList", api.call("GET", "/v1/phonebooks")[1])
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


def test_upload_and_campaign_operation_answers_match_the_documented_schemas(
    api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN the served document
    _, doc = api.call("GET", "/v1/openapi.json")
    # WHEN files are announced (presigned), put and processed, and a CSV is sent inline (imported, and rejected)
    announced = {"kind": "media", "filename": "promo.png", "content_type": "image/png", "size": 4}
    status, media = api.call("POST", "/v1/uploads", announced)
    assert status == 201, media
    _check(doc, "UploadTicket", media)
    _check(doc, "Upload", api.call("GET", f"/v1/uploads/{media['id']}")[1])
    put = requests.request(
        media["upload_method"], media["upload_url"], data=b"\x89PNG", headers=media["upload_headers"], timeout=30
    )
    assert put.status_code == 200, put.text
    announced = {"kind": "contacts_csv", "filename": "later.csv", "content_type": "text/csv", "size": 10}
    status, ticket = api.call("POST", "/v1/uploads", announced)
    assert status == 201, ticket
    _check(doc, "UploadTicket", ticket)
    _check(doc, "Upload", api.call("GET", f"/v1/uploads/{ticket['id']}")[1])
    pump.drain(timeout=30)
    status, ready_media = api.call("GET", f"/v1/uploads/{media['id']}")
    assert ready_media["status"] == "ready", ready_media
    _check(doc, "Upload", ready_media)
    csv = b"Number,first_name\n+41415084545,Anna\n+15005550001,Bob\n+41415084545,Anna again\n"
    headers = {"Content-Type": "text/csv"}
    status, imported = api.call("POST", "/v1/uploads?kind=contacts_csv&filename=c.csv", raw=csv, headers=headers)
    assert status == 201 and imported["status"] == "ready", imported
    _check(doc, "Upload", imported)
    bad = b"Number\n+41415084545\n0041 41 508 45 46\n"
    status, rejected = api.call("POST", "/v1/uploads?kind=contacts_csv&filename=b.csv", raw=bad, headers=headers)
    assert status == 201 and rejected["error"]["code"] == "invalid_phone_number", rejected
    _check(doc, "Upload", rejected)
    status, no_column = api.call(
        "POST", "/v1/uploads?kind=contacts_csv&filename=n.csv", raw=b"a,b\n1,2\n", headers=headers
    )
    assert status == 201 and no_column["error"]["code"] == "missing_number_column", no_column
    _check(doc, "Upload", no_column)
    # AND a draft is PATCHed (to the CSV and the media), duplicated, sent, and its failure retried
    draft_body = campaign_body(["+41415084546"], channel["id"], send_time={"type": "draft"})
    status, draft = api.call("POST", "/v1/campaigns", draft_body)
    assert status == 201, draft
    patch = {
        "name": "MMS promo",
        "recipients": {"numbers": ["+41415084546"], "upload_id": imported["id"]},
        "content": {"type": "file", "upload_id": media["id"], "text": "Hi"},
    }
    status, patched = api.call("PATCH", f"/v1/campaigns/{draft['id']}", patch)
    assert status == 200 and patched["result"]["total"] == 3, patched
    _check(doc, "Campaign", patched)
    status, copy = api.call("POST", f"/v1/campaigns/{draft['id']}/duplicate")
    assert status == 201 and copy["status"] == "draft", copy
    _check(doc, "Campaign", copy)
    status, sending = api.call("POST", f"/v1/campaigns/{draft['id']}/send", {"send_time": {"type": "now"}})
    assert status == 200, sending
    _check(doc, "Campaign", sending)
    pump.drain()
    status, done = api.call("GET", f"/v1/campaigns/{draft['id']}")
    assert done["status"] == "completed" and done["audience_report"] is not None, done
    _check(doc, "Campaign", done)
    _, recipients = api.call("GET", f"/v1/campaigns/{draft['id']}/recipients")
    _check(doc, "RecipientList", recipients)
    assert {"first_name": "Anna"} in [r["variables"] for r in recipients["items"]]
    status, retrying = api.call("POST", f"/v1/campaigns/{draft['id']}/retry")
    assert status == 200 and retrying["status"] in ("retrying", "pending"), retrying
    _check(doc, "Campaign", retrying)
    pump.drain()
    _, recipients = api.call("GET", f"/v1/campaigns/{draft['id']}/recipients?status=failed")
    _check(doc, "RecipientList", recipients)
    assert [r["attempts"] for r in recipients["items"]] == [2]
    # AND a phonebook campaign reports what resolving the phonebook found
    contacts = [{"name": "Alice", "numbers": {"mobile": "+41791234567"}}, {"numbers": {"home": "+41791234568"}}]
    assert api.call("PUT", "/v1/phonebooks/team", {"name": "Team", "contacts": contacts})[0] == 201
    body = campaign_body([], channel["id"], recipients={"phonebook": {"id": "team", "number_type": "mobile"}})
    status, book = api.call("POST", "/v1/campaigns", body)
    assert status == 201, book
    pump.drain()
    _, book = api.call("GET", f"/v1/campaigns/{book['id']}")
    assert book["audience_report"] == {"phonebook_contacts": 2, "without_number_type": 1, "duplicates": 0}, book
    _check(doc, "Campaign", book)
    _, listed = api.call("GET", "/v1/campaigns")
    _check(doc, "CampaignList", listed)
    assert all("recipients" not in c for c in listed["items"])
    # THEN the refusals are in the error shape, with documented codes
    status, busy = api.call("POST", f"/v1/campaigns/{copy['id']}/retry")
    assert status == 409 and busy["error"]["code"] == "campaign_not_retryable", busy
    _check(doc, "Error", busy)
    assert api.call("DELETE", f"/v1/campaigns/{copy['id']}")[0] == 204
