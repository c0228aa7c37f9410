"""Sessions through the app: Chalice's test client, moto, and the Twilio simulator the campaigns are sent through.

Inbound messages are posted to the channel's inbound webhook signed as Twilio signs them (the simulator's own
`/sim/inbound` posts over HTTP, which the test client is not; the local stack's end-to-end tests drive that).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from twilio.request_validator import RequestValidator

from chalicelib.services.tenants import create_tenant
from tests.conftest import PUBLIC_BASE, SENDER, SIM_ACCOUNT, SIM_TOKEN, Api, Env, campaign_body
from tests.functional.test_webhooks import callback_params, post_callback

NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
OTHER = "+14155550109"
QUEUE = {"type": "queue", "id": "1001"}


def session_campaign(api: Api, channel: dict[str, Any], numbers: list[str], target: Any = QUEUE) -> str:
    status, created = api.call(
        "POST", "/v1/campaigns", campaign_body(numbers, channel["id"], send_mode="session", routing_target=target)
    )
    assert status == 201, created
    return str(created["id"])


def sessions(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, page = api.call("GET", f"/v1/sessions{query}")
    assert status == 200, page
    return list(page["items"])


def log(api: Api, session_id: str) -> list[dict[str, Any]]:
    status, page = api.call("GET", f"/v1/sessions/{session_id}/messages")
    assert status == 200, page
    return list(page["items"])


def of(api: Api, number: str, status: str = "open") -> dict[str, Any]:
    (found,) = sessions(api, f"?contact={quote(number)}&status={status}")
    return found


def post_inbound(api: Api, channel_id: str, sid: str, frm: str, body: str = "Yes please") -> int:
    """A signed Twilio inbound-message webhook to the channel; its status."""
    params = {"MessageSid": sid, "AccountSid": SIM_ACCOUNT, "From": frm, "To": SENDER, "Body": body, "NumMedia": "0"}
    path = f"/webhooks/twilio/{channel_id}/inbound"
    signature = RequestValidator(SIM_TOKEN).compute_signature(PUBLIC_BASE + path, params)
    response = api.client.http.post(
        path,
        body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    return int(response.status_code)


def test_session_campaigns_open_and_reuse_sessions_and_direct_ones_open_none(
    client: Any, api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN a session campaign for queue 1001 to three numbers WHEN it is sent
    first = session_campaign(api, channel, NUMBERS)
    pump.drain()
    # THEN three sessions are open, one per number, each with the campaign message in its log
    opened = sessions(api)
    assert sorted(s["contact"] for s in opened) == NUMBERS
    assert all(s["routing_target"] == QUEUE and s["origin"] == "campaign" and s["campaign_id"] == first for s in opened)
    for s in opened:
        (message,) = log(api, s["id"])
        assert message["text"] == "Hello 👋" and message["direction"] == "outbound" and message["status"] == "sent"
    status, page = api.call("GET", f"/v1/campaigns/{first}/recipients")
    assert {r["number"]: r["session_id"] for r in page["items"]} == {s["contact"]: s["id"] for s in opened}
    # WHEN a second session campaign, for an extension, goes to one of them
    second = session_campaign(api, channel, NUMBERS[:1], {"type": "extension", "id": "201"})
    pump.drain()
    # THEN its session is reused with the first target kept, and holds both messages
    session = of(api, NUMBERS[0])
    assert (
        session["routing_target"] == QUEUE
        and session["id"] == opened[[s["contact"] for s in opened].index(NUMBERS[0])]["id"]
    )
    assert [m["campaign_id"] for m in log(api, session["id"])] == [first, second]
    assert [s["id"] for s in sessions(api, f"?campaign_id={second}")] == [session["id"]]
    # WHEN a direct campaign goes to another number THEN no session is opened for it
    status, created = api.call("POST", "/v1/campaigns", campaign_body([OTHER], channel["id"]))
    assert status == 201
    pump.drain()
    assert sessions(api, f"?contact={quote(OTHER)}") == [] and len(sessions(api)) == 3
    # AND a delivered report moves the campaign message's status in the log
    message = next(m for m in env.sim.messages() if m["to"] == NUMBERS[1])
    assert post_callback(client, message["status_callback"], callback_params(message, "delivered"))[0] == 204
    assert [m["status"] for m in log(api, of(api, NUMBERS[1])["id"])] == ["delivered"]


def test_inbound_messages_join_or_open_a_session_once_and_sessions_close(
    client: Any, api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN a session campaign's session, and a channel whose inbound sessions go to queue 2000
    cid = session_campaign(api, channel, NUMBERS[:1])
    pump.drain()
    status, changed = api.call(
        "PATCH", f"/v1/channels/{channel['id']}", {"default_routing_target": {"type": "queue", "id": "2000"}}
    )
    assert status == 200 and changed["default_routing_target"] == {"type": "queue", "id": "2000"}
    assert changed["session_expire_hours"] == 24
    # WHEN the contact replies, and Twilio delivers the reply twice
    assert post_inbound(api, channel["id"], "SMreply0001", NUMBERS[0]) == 200
    assert post_inbound(api, channel["id"], "SMreply0001", NUMBERS[0]) == 200
    # THEN the reply is in its session's log once
    session = of(api, NUMBERS[0])
    messages = log(api, session["id"])
    assert [(m["direction"], m["text"]) for m in messages] == [("outbound", "Hello 👋"), ("inbound", "Yes please")]
    assert messages[1]["provider_message_id"] == "SMreply0001" and messages[0]["campaign_id"] == cid
    # WHEN a contact with no session writes THEN a session is opened on the channel's default target
    assert post_inbound(api, channel["id"], "SMnew0001", OTHER, "Hello?") == 200
    new = of(api, OTHER)
    assert new["origin"] == "inbound" and new["routing_target"] == {"type": "queue", "id": "2000"}
    assert new["campaign_id"] is None
    # WHEN it is closed THEN it is closed; closing again is 409 session_closed
    status, closed = api.call("POST", f"/v1/sessions/{new['id']}/close")
    assert status == 200 and closed["status"] == "closed" and closed["closed_at"]
    status, again = api.call("POST", f"/v1/sessions/{new['id']}/close")
    assert status == 409 and again["error"]["code"] == "session_closed"
    # AND the contact's next message opens a new one
    assert post_inbound(api, channel["id"], "SMnew0002", OTHER, "Still there?") == 200
    assert of(api, OTHER)["id"] != new["id"]
    # WHEN 24 hours pass in silence THEN the first session reads closed, and a reply opens a new one
    env.deps.clock.offset += 24 * 3600 + 60
    status, expired = api.call("GET", f"/v1/sessions/{session['id']}")
    assert status == 200 and expired["status"] == "closed" and expired["closed_at"]
    assert post_inbound(api, channel["id"], "SMlate0001", NUMBERS[0], "Sorry, late") == 200
    fresh = of(api, NUMBERS[0])
    assert fresh["id"] != session["id"] and fresh["origin"] == "inbound"
    status, old = api.call("GET", f"/v1/sessions/{session['id']}")
    assert old["status"] == "closed"


def test_session_routes_answer_bad_input_in_shape(client: Any, api: Api, channel: dict[str, Any], env: Env) -> None:
    # GIVEN a session of another tenant
    assert post_inbound(api, channel["id"], "SMx1", NUMBERS[0]) == 200
    (session,) = sessions(api)
    _, other_key = create_tenant(env.deps, "Other PBX")
    # THEN it is 404 to the other tenant, as are ids no session can have
    for path in (f"/v1/sessions/{session['id']}", f"/v1/sessions/{session['id']}/messages"):
        assert api.call("GET", path, key=other_key)[0] == 404
    status, _ = api.call("POST", f"/v1/sessions/{session['id']}/close", key=other_key)
    assert status == 404
    for bad in ("x" * 5000, quote("ses_👋"), "ses_nope"):
        assert api.call("GET", f"/v1/sessions/{bad}")[0] == 404
        assert api.call("GET", f"/v1/sessions/{bad}/messages")[0] == 404
        assert api.call("POST", f"/v1/sessions/{bad}/close")[0] == 404
    # AND filters and cursors that name nothing are 400 invalid_request
    for query in (
        "?status=opened",
        "?contact=abc",
        "?contact=%2B1",
        "?limit=0",
        "?cursor=nope",
        "?campaign_id=" + "c" * 201,
    ):
        status, answer = api.call("GET", f"/v1/sessions{query}")
        assert status == 400 and answer["error"]["code"] == "invalid_request", query
    status, answer = api.call("GET", f"/v1/sessions/{session['id']}/messages?cursor=bad")
    assert status == 400
    # AND a contact's `+` read as a space by the query string still finds it
    assert [s["id"] for s in sessions(api, f"?contact={NUMBERS[0]}")] == [session["id"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"send_mode": "session"}, "routing_target"),
        ({"send_mode": "session", "routing_target": {"type": "queue", "id": "12a"}}, "routing_target"),
        ({"send_mode": "session", "routing_target": {"type": "room", "id": "12"}}, "routing_target"),
        ({"send_mode": "session", "routing_target": {"type": "queue", "id": "1" * 17}}, "routing_target"),
        ({"send_mode": "direct", "routing_target": {"type": "queue", "id": "12"}}, "routing_target"),
    ],
)
def test_a_campaign_without_a_valid_target_for_its_mode_is_422(
    api: Api, channel: dict[str, Any], overrides: dict[str, Any], field: str
) -> None:
    status, answer = api.call("POST", "/v1/campaigns", campaign_body(NUMBERS, channel["id"], **overrides))
    assert status == 422 and answer["error"]["code"] == "invalid_routing_target"
    assert answer["error"]["details"][0]["field"] == field
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []


def test_channel_session_settings_are_checked_and_answered(api: Api, channel: dict[str, Any]) -> None:
    path = f"/v1/channels/{channel['id']}"
    for bad, code in (
        ({"session_expire_hours": 0}, "invalid_session_expire_hours"),
        ({"session_expire_hours": 721}, "invalid_session_expire_hours"),
        ({"default_routing_target": {"type": "queue", "id": "٣"}}, "invalid_routing_target"),
    ):
        status, answer = api.call("PATCH", path, bad)
        assert status == 422 and answer["error"]["code"] == code
    assert api.call("PATCH", path, {"session_expire_hours": 1.5})[0] == 400
    status, changed = api.call("PATCH", path, {"session_expire_hours": 2, "default_routing_target": QUEUE})
    assert status == 200 and changed["session_expire_hours"] == 2 and changed["default_routing_target"] == QUEUE
    status, cleared = api.call("PATCH", path, {"default_routing_target": None})
    assert status == 200 and cleared["default_routing_target"] is None and cleared["session_expire_hours"] == 2


def test_whole_hours_written_as_a_json_float_are_taken(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN JSON Schema's integer 3.0 WHEN a channel's hours are set to it THEN they are 3 (the document says integer)
    status, changed = api.call("PATCH", f"/v1/channels/{channel['id']}", {"session_expire_hours": 3.0})
    assert status == 200 and changed["session_expire_hours"] == 3
