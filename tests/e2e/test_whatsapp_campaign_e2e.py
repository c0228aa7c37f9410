"""End to end over HTTP only: an order_update template campaign from a CSV with per-contact values, on the Cloud API
sandbox channel (Meta's Graph API at the simulator) and on the Twilio WhatsApp sandbox channel (Twilio's Content API).

The local stack runs as `make run` runs it (a child process); the test talks to the API and to the simulator's /sim/*
controls, never to our code in-process. Statuses reach the service only as the providers send them, signed (a
forged webhook is refused, see the last test), so a recipient at `read` proves the signed callbacks were accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack import stack as local_stack
from devstack.stackproc import StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e

ADA, BOB, CARL = "+14155550141", "+14155550142", "+14155550143"
NOT_ON_WHATSAPP = "+15550199001"  # the contract's test number: not a WhatsApp user
# Ada has both values, Bob's first_name is empty (the default fills it), Carl's order is empty (no default: skipped).
CSV = (f"Number,first_name,order\n{ADA},Ada,A-1\n{BOB},,B-2\n{CARL},Carl,\n{NOT_ON_WHATSAPP},Nobody,N-0\n").encode()
VARIABLES = {"1": {"column": "first_name", "default": "there"}, "2": {"column": "order"}}
CHANNELS = {
    # channel: (sender, the provider's code for "not a WhatsApp user")
    "ch_sandbox_wa": ("+15550100001", "131026"),
    "ch_sandbox_twa": ("+14155238886", "63024"),
}


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def _template_id(stack: StackProcess, channel_id: str, name: str) -> str:
    synced = stack.call("POST", f"/v1/channels/{channel_id}/templates/sync")
    assert synced.status_code == 200, synced.text
    listed = stack.call("GET", f"/v1/channels/{channel_id}/templates?limit=200")
    assert listed.status_code == 200, listed.text
    found = [t for t in listed.json()["items"] if t["name"] == name]
    assert len(found) == 1 and found[0]["status"] == "approved", listed.text
    return str(found[0]["id"])


def _upload(stack: StackProcess) -> str:
    upload = stack.call(
        "POST",
        "/v1/uploads?kind=contacts_csv&filename=orders.csv",
        data=CSV,
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201, upload.text

    def processed() -> Any:
        found = stack.call("GET", f"/v1/uploads/{upload.json()['id']}").json()
        return found if found["status"] != "processing" else None

    ready = wait_for(processed, timeout=30)
    assert ready["status"] == "ready" and ready["valid"] == 4, ready
    return str(ready["id"])


def _recipients(stack: StackProcess, campaign_id: str) -> dict[str, dict[str, Any]]:
    page = stack.call("GET", f"/v1/campaigns/{campaign_id}/recipients?limit=200")
    assert page.status_code == 200, page.text
    return {r["number"]: r for r in page.json()["items"]}


def _sent_to(stack: StackProcess, channel_id: str) -> dict[str, list[dict[str, Any]]]:
    """What the simulator received for this channel's provider, by recipient number."""
    items = requests.get(f"{stack.sim}/sim/messages", timeout=10).json()["items"]
    out: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if channel_id == "ch_sandbox_wa" and item.get("provider") == "whatsapp_cloud":
            out.setdefault(str(item["to"]), []).append(item)
        elif channel_id == "ch_sandbox_twa" and str(item.get("to", "")).startswith("whatsapp:"):
            out.setdefault(str(item["to"]).removeprefix("whatsapp:"), []).append(item)
    return out


@pytest.mark.parametrize("channel_id", list(CHANNELS))
def test_an_order_update_campaign_reaches_each_contact_once_with_its_own_values(
    stack: StackProcess, channel_id: str
) -> None:
    sender, not_a_user_code = CHANNELS[channel_id]
    # GIVEN the channel's templates synced from the provider, and the CSV with first_name and order columns
    template_id = _template_id(stack, channel_id, "order_update")
    upload_id = _upload(stack)
    before = _sent_to(stack, channel_id)
    # WHEN an order_update campaign goes to the CSV, each value from its column
    created = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": f"Orders on {channel_id}",
            "channel_id": channel_id,
            "sender": sender,
            "recipients": {"upload_id": upload_id},
            "content": {"type": "template", "template_id": template_id, "variables": VARIABLES},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    def finished() -> Any:
        found = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
        return found if found["status"] in ("completed", "stopped") else None

    done = wait_for(finished, timeout=120)
    # THEN the campaign completes
    assert done is not None and done["status"] == "completed", done
    # AND each number reached the provider exactly once, Carl (an empty cell, no default) never
    sent = _sent_to(stack, channel_id)
    new = {n: len(v) - len(before.get(n, [])) for n, v in sent.items()}
    assert {n: c for n, c in new.items() if c} == {ADA: 1, BOB: 1, NOT_ON_WHATSAPP: 1}, sent
    # AND each with its own values: Bob's empty first_name is the default
    text = {n: json.dumps(sent[n][-1], ensure_ascii=False) for n in (ADA, BOB)}
    assert "Ada" in text[ADA] and "A-1" in text[ADA] and "there" not in text[ADA], text[ADA]
    assert "there" in text[BOB] and "B-2" in text[BOB], text[BOB]
    if channel_id == "ch_sandbox_twa":
        assert sent[ADA][-1]["body"] == "Hi Ada, your order A-1 has shipped."
        assert sent[BOB][-1]["body"] == "Hi there, your order B-2 has shipped."

    # AND the signed status callbacks move the delivered ones on to read, and the test number to failed
    def settled() -> Any:
        found = _recipients(stack, campaign_id)
        return (
            found
            if found[ADA]["status"] == found[BOB]["status"] == "read" and found[NOT_ON_WHATSAPP]["status"] == "failed"
            else None
        )

    recipients = wait_for(settled, timeout=60) or _recipients(stack, campaign_id)
    assert recipients[ADA]["status"] == "read" and recipients[ADA]["delivered_at"], recipients[ADA]
    assert recipients[BOB]["status"] == "read" and recipients[BOB]["read_at"], recipients[BOB]
    assert recipients[NOT_ON_WHATSAPP]["status"] == "failed", recipients[NOT_ON_WHATSAPP]
    assert recipients[NOT_ON_WHATSAPP]["error"]["code"] == not_a_user_code, recipients[NOT_ON_WHATSAPP]
    assert recipients[CARL]["status"] == "skipped", recipients[CARL]
    assert recipients[CARL]["error"]["code"] == "missing_variable", recipients[CARL]
    final = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
    assert final["result"]["total"] == 4 and final["result"]["failed"] == 1, final


def test_a_forged_meta_webhook_is_refused_and_changes_nothing(stack: StackProcess) -> None:
    # GIVEN a recipient of a Cloud API campaign, read, and a status report that would mark it failed
    template_id = _template_id(stack, "ch_sandbox_wa", "hello_world")
    created = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "Hello",
            "channel_id": "ch_sandbox_wa",
            "sender": "+15550100001",
            "recipients": {"numbers": ["+14155550177"]},
            "content": {"type": "template", "template_id": template_id, "variables": {}},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    recipient = wait_for(lambda: (r := _recipients(stack, campaign_id)["+14155550177"])["status"] == "read" and r, 90)
    assert recipient and recipient["status"] == "read", recipient
    sim_item = _sent_to(stack, "ch_sandbox_wa")["+14155550177"][-1]
    report = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550100001", "phone_number_id": "106540352242922"},
                            "statuses": [
                                {
                                    "id": recipient["provider_message_id"],
                                    "status": "failed",
                                    "timestamp": "1790000000",
                                    "recipient_id": "14155550177",
                                    "biz_opaque_callback_data": sim_item["biz_opaque_callback_data"],
                                    "errors": [{"code": 131026, "title": "Message undeliverable"}],
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(report).encode()
    url = f"{stack.base.removesuffix('/')}/webhooks/whatsapp/ch_sandbox_wa"
    good = "sha256=" + hmac.new(local_stack.SANDBOX_WA_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    forged = "sha256=" + hmac.new(b"not-the-app-secret", raw, hashlib.sha256).hexdigest()
    # WHEN it arrives forged, unsigned, or signed for another body
    for headers, body in (
        ({"X-Hub-Signature-256": forged}, raw),
        ({}, raw),
        ({"X-Hub-Signature-256": good}, raw.replace(b"failed", b"sent  ")),
    ):
        answer = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10)
        # THEN it is refused with 403 in the contract's shape
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
    # AND the recipient is as it was
    assert _recipients(stack, campaign_id)["+14155550177"]["status"] == "read"
    # AND a wrong verify token fails the handshake, the right one echoes the challenge
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "wrong"}
    assert requests.get(url, params=query, timeout=10).status_code == 403
    query["hub.verify_token"] = local_stack.SANDBOX_WA_VERIFY_TOKEN
    shaken = requests.get(url, params=query, timeout=10)
    assert (shaken.status_code, shaken.text) == (200, "1158201444")


def test_a_template_paused_mid_campaign_stops_it_and_retry_resumes_it_once_approved(stack: StackProcess) -> None:
    # GIVEN a hello_world campaign to 12 contacts on the Cloud API channel, slowed to one message a second
    template_id = _template_id(stack, "ch_sandbox_wa", "hello_world")
    assert stack.call("PATCH", "/v1/channels/ch_sandbox_wa", {"mps": 1}).status_code == 200
    numbers = [f"+14155550{200 + i}" for i in range(12)]
    try:
        created = stack.call(
            "POST",
            "/v1/campaigns",
            {
                "name": "Paused mid-way",
                "channel_id": "ch_sandbox_wa",
                "sender": "+15550100001",
                "recipients": {"numbers": numbers},
                "content": {"type": "template", "template_id": template_id, "variables": {}},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        assert wait_for(lambda: sum(len(_sent_to(stack, "ch_sandbox_wa").get(n, [])) for n in numbers) >= 2, 60)
        # WHEN Meta pauses the template while it sends (the simulator posts message_template_status_update)
        paused = requests.post(f"{stack.sim}/sim/templates/hello_world/status", json={"status": "PAUSED"}, timeout=10)
        assert paused.status_code == 200, paused.text

        def campaign() -> dict[str, Any]:
            return dict(stack.call("GET", f"/v1/campaigns/{campaign_id}").json())

        # THEN the campaign stops with that reason, before it has sent to everyone
        stopped = wait_for(lambda: (c := campaign())["status"] == "stopped" and c, 30)
        assert stopped and stopped["stop_reason"]["code"] == "template_paused", campaign()
        assert stopped["result"]["sent"] + stopped["result"]["delivered"] < len(numbers), stopped
        template = stack.call("GET", f"/v1/channels/ch_sandbox_wa/templates/{template_id}").json()
        assert template["status"] == "paused", template
        # AND a retry is refused while the template is paused
        refused = stack.call("POST", f"/v1/campaigns/{campaign_id}/retry")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "template_not_approved", refused.text
        # WHEN Meta approves it again
        requests.post(f"{stack.sim}/sim/templates/hello_world/status", json={"status": "APPROVED"}, timeout=10)
        assert wait_for(
            lambda: (
                stack.call("GET", f"/v1/channels/ch_sandbox_wa/templates/{template_id}").json()["status"] == "approved"
            ),
            30,
        )
        # THEN a retry resumes it, and it completes with every contact sent exactly once
        resumed = stack.call("POST", f"/v1/campaigns/{campaign_id}/retry")
        assert resumed.status_code < 300 and resumed.json()["status"] in ("retrying", "pending"), resumed.text
        done = wait_for(lambda: (c := campaign())["status"] == "completed" and c, 90)
        assert done, campaign()
        sent = _sent_to(stack, "ch_sandbox_wa")
        assert {n: len(sent.get(n, [])) for n in numbers} == dict.fromkeys(numbers, 1), sent
    finally:
        stack.call("PATCH", "/v1/channels/ch_sandbox_wa", {"mps": 80})
        requests.post(f"{stack.sim}/sim/templates/hello_world/status", json={"status": "APPROVED"}, timeout=10)


def test_the_same_contact_in_two_consecutive_campaigns_is_not_refused_by_the_pair_rate(stack: StackProcess) -> None:
    # GIVEN one contact, and Meta's pair-rate refusals (131056) so far
    template_id = _template_id(stack, "ch_sandbox_wa", "hello_world")
    contact = "+14155550299"

    def refusals() -> int:
        return int(requests.get(f"{stack.sim}/sim/stats", timeout=10).json()["whatsapp_cloud"]["pair_rate_131056"])

    before = refusals()
    body = {
        "channel_id": "ch_sandbox_wa",
        "sender": "+15550100001",
        "recipients": {"numbers": [contact]},
        "content": {"type": "template", "template_id": template_id, "variables": {}},
        "send_time": {"type": "now"},
        "send_mode": "direct",
    }
    # WHEN two campaigns to it are created back to back (the second waits for the first: one sends at a time)
    ids = []
    for name in ("First", "Second"):
        created = stack.call("POST", "/v1/campaigns", {**body, "name": name})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    def both_done() -> bool:
        return all(stack.call("GET", f"/v1/campaigns/{i}").json()["status"] == "completed" for i in ids)

    assert wait_for(both_done, 90), [stack.call("GET", f"/v1/campaigns/{i}").json() for i in ids]
    # THEN Meta accepted both messages, never refusing the second as within 6 s of the first
    sent = _sent_to(stack, "ch_sandbox_wa")[contact]
    assert len(sent) == 2 and refusals() == before, (sent, refusals())
    assert sent[1]["created_at"] - sent[0]["created_at"] >= 6.0, sent
    for campaign_id in ids:
        assert _recipients(stack, campaign_id)[contact]["status"] in ("sent", "delivered", "read")
