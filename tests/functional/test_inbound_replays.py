"""Inbound webhooks are idempotent (issue 11, point 5): the app served over HTTP (the local stack's server) on moto,
the simulated Twilio and Meta posting real signed webhooks to it, and replaying them exactly as a provider retries.

A replayed Twilio inbound (same MessageSid) and a replayed Meta message (same wamid) are one kept message; a replayed
reply is one message in its session's log and one attribution."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests
from chalice.config import Config

from devstack.api_server import api_server
from devstack.meta_sim import sandbox
from tests.conftest import SANDBOX_CHANNEL, SENDER, SIM_ACCOUNT, Api, Env, campaign_body, set_settings

CONTACT = "+41791234567"
CLOUD_CHANNEL: dict[str, Any] = {
    "name": "Sandbox WhatsApp",
    "type": "whatsapp",
    "provider": "whatsapp_cloud",
    "senders": [sandbox.SENDER],
    "credentials": {
        "access_token": sandbox.ACCESS_TOKEN,
        "app_secret": sandbox.APP_SECRET,
        "verify_token": sandbox.VERIFY_TOKEN,
    },
    "provider_config": {"waba_id": sandbox.WABA_ID, "phone_number_ids": {sandbox.SENDER: sandbox.PHONE_NUMBER_ID}},
    "mps": 80,
}


@pytest.fixture
def base(env: Env) -> Iterator[str]:
    """The app behind the local stack's server on a free port, and the public base URL the providers sign for."""
    import app as app_module

    server = api_server(app_module.app, Config.create(chalice_stage="dev", lambda_timeout=30), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server.server_address[1]}"
    set_settings(env, public_base_url=url)  # the webhook URLs the service hands out and verifies signatures for
    yield url
    # The simulator is the session's: leave its numbers posting nowhere, as the other tests expect them.
    env.sim.add_number(SENDER, SIM_ACCOUNT, mps=1000)
    env.sim.meta.add_waba(**sandbox.waba_spec())
    server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


def kept_inbound(env: Env, channel_id: str) -> list[dict[str, Any]]:
    """The inbound messages the table keeps for a channel."""
    items = boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"]
    return [
        {k: next(iter(v.values())) for k, v in i.items()}
        for i in items
        if i.get("type", {}).get("S") == "inbound" and i.get("channel_id", {}).get("S") == channel_id
    ]


def test_a_replayed_twilio_inbound_is_one_kept_message(env: Env, api: Api, base: str) -> None:
    # GIVEN the SMS channel, its number at the simulator posting incoming messages to the channel's inbound URL
    status, channel = api.call("POST", "/v1/channels", SANDBOX_CHANNEL)
    assert status == 201, channel
    env.sim.add_number(SENDER, SIM_ACCOUNT, mps=1000, inbound_url=f"{base}/webhooks/twilio/{channel['id']}/inbound")
    # WHEN a contact texts the sender, and Twilio posts that webhook again (its retry: same MessageSid, same body)
    first = requests.post(f"{env.sim.url}/sim/inbound", json={"from": CONTACT, "to": SENDER, "body": "Hi"}, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == 200, first.text
    sid = first.json()["message_sid"]
    replay = requests.post(f"{env.sim.url}/sim/inbound/{sid}/replay", timeout=10)
    # THEN both are answered as accepted (the provider stops retrying), and the message is kept once
    assert replay.status_code == 200 and replay.json()["status"] == 200, replay.text
    kept = kept_inbound(env, channel["id"])
    assert [(k["message_sid"], k["from"], k["body"]) for k in kept] == [(sid, CONTACT, "Hi")], kept


def test_a_replayed_meta_message_is_one_kept_message(env: Env, api: Api, base: str) -> None:
    # GIVEN the Cloud API channel on the simulator's sandbox WABA, which posts its webhooks to the channel's URL
    status, channel = api.call("POST", "/v1/channels", CLOUD_CHANNEL)
    assert status == 201, channel
    env.sim.meta.add_waba(**sandbox.waba_spec(webhook_url=f"{base}/webhooks/whatsapp/{channel['id']}"))
    env.sim.configure(graph_no_webhooks=False)
    # WHEN a contact's reply quoting a message arrives, and Meta posts the same webhook again (same wamid)
    first = requests.post(
        f"{env.sim.url}/sim/inbound",
        json={"from": CONTACT, "to": sandbox.SENDER, "body": "Yes", "context_message_id": "wamid.CAMPAIGN"},
        timeout=10,
    )
    assert first.status_code == 200, first.text
    wamid = first.json()["message_id"]
    assert env.sim.meta.wait_for_webhooks(timeout=10)
    replay = requests.post(f"{env.sim.url}/sim/inbound/{quote(wamid, safe='')}/replay", timeout=10)
    assert replay.status_code == 200, replay.text
    assert env.sim.meta.wait_for_webhooks(timeout=10)
    # THEN both posts were answered 200 (none failed, none is retried) and the message is kept once, with its context
    stats = env.sim.meta.stats()
    assert (stats["webhooks_posted"], stats["webhooks_failed"], stats["inbound_replays"]) == (2, 0, 1), stats
    kept = kept_inbound(env, channel["id"])
    assert [(k["message_sid"], k["from"], k["body"], k.get("context_id")) for k in kept] == [
        (wamid, CONTACT, "Yes", "wamid.CAMPAIGN")
    ], kept


def test_a_replayed_meta_preference_is_answered_and_recorded_again_harmlessly(env: Env, api: Api, base: str) -> None:
    # GIVEN the Cloud API channel posting to the service
    status, channel = api.call("POST", "/v1/channels", CLOUD_CHANNEL)
    assert status == 201, channel
    env.sim.meta.add_waba(**sandbox.waba_spec(webhook_url=f"{base}/webhooks/whatsapp/{channel['id']}"))
    env.sim.configure(graph_no_webhooks=False)
    # WHEN a contact stops marketing messages, twice (Meta's retry), then resumes them
    for value in ("stop", "stop", "resume"):
        answer = requests.post(
            f"{env.sim.url}/sim/meta/user_preferences",
            json={"from": CONTACT, "to": sandbox.SENDER, "value": value},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert env.sim.meta.wait_for_webhooks(timeout=10)
    # THEN every post was answered 200: the service read each as a preference, none failed
    stats = env.sim.meta.stats()
    assert (stats["webhooks_posted"], stats["webhooks_failed"], stats["user_preferences"]) == (3, 0, 3), stats


def test_a_replayed_reply_is_one_session_message_and_one_attribution(env: Env, api: Api, base: str, pump: Any) -> None:
    # GIVEN a session campaign on the SMS channel, sent to the contact
    status, channel = api.call("POST", "/v1/channels", SANDBOX_CHANNEL)
    assert status == 201, channel
    env.sim.add_number(SENDER, SIM_ACCOUNT, mps=1000, inbound_url=f"{base}/webhooks/twilio/{channel['id']}/inbound")
    body = campaign_body([CONTACT], channel["id"], send_mode="session", routing_target={"type": "queue", "id": "2001"})
    status, created = api.call("POST", "/v1/campaigns", body)
    assert status == 201, created
    pump.drain()
    assert pump.errors == []
    # WHEN the contact replies, and Twilio posts that webhook twice more (same MessageSid, same body)
    first = requests.post(f"{env.sim.url}/sim/inbound", json={"from": CONTACT, "to": SENDER, "body": "Yes"}, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == 200, first.text
    sid = first.json()["message_sid"]
    for _ in range(2):
        replay = requests.post(f"{env.sim.url}/sim/inbound/{sid}/replay", timeout=10)
        assert replay.status_code == 200 and replay.json()["status"] == 200, replay.text
    # THEN the campaign counts one reply, and the contact's one session has the reply once
    status, campaign = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert (campaign["responded"], campaign["response_rate"]) == (1, 1.0), campaign
    status, page = api.call("GET", f"/v1/sessions?contact=%2B{CONTACT[1:]}")
    assert status == 200 and len(page["items"]) == 1, page
    status, log = api.call("GET", f"/v1/sessions/{page['items'][0]['id']}/messages")
    inbound = [m for m in log["items"] if m["direction"] == "inbound"]
    assert [(m["text"], m["provider_message_id"]) for m in inbound] == [("Yes", sid)], log
