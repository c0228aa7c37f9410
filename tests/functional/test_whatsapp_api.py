"""WhatsApp channels, templates and Meta's webhook through the Chalice test client and moto.

The deployment's WhatsApp Cloud entries are a Meta-shaped stand-in registered for each test (tests/fakes/whatsapp.py:
Meta's webhook JSON and signature, an account that lists the templates a test sets), so these tests hold the routes
and services to the contract whatever the real adapter does. Every answer is checked against the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.config import Settings
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import ProviderRefusedError
from chalicelib.domain.templates import Template
from tests.conftest import PUBLIC_BASE, SANDBOX_CHANNEL, Api, Env
from tests.fakes.whatsapp import (
    APP_SECRET,
    CREDS,
    FAKE_CLOUD,
    VERIFY_TOKEN,
    WABA,
    FakeCloudAccount,
    HubSignature,
    envelope,
    messages_change,
    sign,
    template_change,
)

SENDER = "+14155238886"
CONFIG = {"waba_id": WABA, "phone_number_ids": {SENDER: "106540352242922"}}
CLOUD_CHANNEL = {
    "name": "WhatsApp",
    "type": "whatsapp",
    "provider": "whatsapp_cloud",
    "senders": [SENDER],
    "credentials": CREDS,
    "provider_config": CONFIG,
}
LISTED = [
    Template(id="1001", name="hello_world", language="en_US", status="approved", body="Hello World"),
    Template(
        id="1002",
        name="order_update",
        language="en",
        status="approved",
        body="Hi {{1}}, your order {{2}} has shipped.",
        variables=("1", "2"),
        category="utility",
        provider_status="APPROVED",
    ),
    Template(
        id="1003",
        name="spring_promo",
        language="en",
        status="approved",
        body="{{1}}",
        variables=("1",),
        category="marketing",
        header={"type": "image"},
        buttons=({"type": "quick_reply", "text": "Stop promotions"},),
    ),
    Template(id="1004", name="promo_pending", language="en", status="pending", body="Soon", provider_status="PENDING"),
    Template(id="1005", name="old_offer", language="en", status="paused", body="Old", provider_status="PAUSED"),
]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> FakeCloudAccount:
    """The WhatsApp Cloud account every channel of this deployment reaches, listing the sandbox's templates."""
    shared = FakeCloudAccount(listed=list(LISTED))

    def build(channel: Channel, creds: Mapping[str, str], settings: Settings) -> FakeCloudAccount:
        assert creds["access_token"] == CREDS["access_token"]  # built from the channel's stored credentials
        return shared

    monkeypatch.setitem(wiring.RULES, ("whatsapp_cloud", "whatsapp"), FAKE_CLOUD)
    monkeypatch.setitem(wiring.PROVIDERS, "whatsapp_cloud", build)
    monkeypatch.setitem(wiring.VERIFIERS, "whatsapp_cloud", lambda channel, creds: HubSignature(creds["app_secret"]))
    return shared


@pytest.fixture
def cloud(api: Api, account: FakeCloudAccount) -> dict[str, Any]:
    """A WhatsApp Cloud channel created through the API."""
    status, created = api.call("POST", "/v1/channels", CLOUD_CHANNEL)
    assert status == 201, created
    return created


def post_meta(client: Any, channel_id: str, payload: Any, *, signature: str | None = "sign", raw: bytes | None = None):
    """POST Meta's webhook as Meta does (JSON, X-Hub-Signature-256 of the raw body with the app secret)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = client.http.post(f"/webhooks/whatsapp/{channel_id}", headers=headers, body=body)
    text = response.body.decode("utf-8") if isinstance(response.body, bytes) else response.body
    return response.status_code, json.loads(text) if text else None


def template(api: Api, channel_id: str, template_id: str) -> dict[str, Any]:
    status, found = api.call("GET", f"/v1/channels/{channel_id}/templates/{template_id}")
    assert status == 200, found
    return found


# -------------------------------------------------------------------------------------------------- channels
def test_a_cloud_channel_is_created_with_its_config_shown_its_secrets_kept_and_metas_one_url(
    api: Api, cloud: dict[str, Any], env: Env
) -> None:
    # GIVEN the channel created above WHEN read back
    cid = cloud["id"]
    status, got = api.call("GET", f"/v1/channels/{cid}")
    # THEN it shows provider_config and Meta's default pace, one webhook URL for both kinds, never a credential
    assert status == 200 and got == cloud
    assert got["provider_config"] == CONFIG and got["mps"] == 80
    url = f"{PUBLIC_BASE}/webhooks/whatsapp/{cid}"
    assert got["webhooks"] == {"status_callback_url": url, "inbound_url": url}
    assert APP_SECRET not in json.dumps(got) and VERIFY_TOKEN not in json.dumps(got)
    assert env.deps.secrets.get(env.deps.channels.tenant_of(cid), cid) == CREDS


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"provider_config": None}, "invalid_provider_config", "provider_config"),
        (
            {"provider_config": {"waba_id": WABA, "phone_number_ids": {"+14155238887": "1"}}},
            "invalid_provider_config",
            f"provider_config.phone_number_ids.{SENDER}",
        ),
        ({"credentials": SANDBOX_CHANNEL["credentials"]}, "invalid_credentials", "credentials.access_token"),
    ],
)
def test_a_cloud_channel_that_could_not_work_is_refused_with_nothing_saved(
    api: Api, account: FakeCloudAccount, change: dict[str, Any], code: str, field: str
) -> None:
    # GIVEN a Cloud channel without a config, with one that misses its sender, or with Twilio's credentials
    body = {k: v for k, v in {**CLOUD_CHANNEL, **change}.items() if v is not None}
    # WHEN created THEN 422 with that code naming the field, and no channel exists
    status, refused = api.call("POST", "/v1/channels", body)
    assert status == 422, refused
    assert refused["error"]["code"] == code and refused["error"]["details"][0]["field"] == field
    assert api.call("GET", "/v1/channels")[1]["items"] == []


def test_a_patch_changes_senders_and_config_together_or_not_at_all(api: Api, cloud: dict[str, Any]) -> None:
    # GIVEN a Cloud channel
    cid = cloud["id"]
    senders = [SENDER, "+14155238887"]
    # WHEN a sender is added without its phone number id THEN 422, and the channel is as it was
    status, refused = api.call("PATCH", f"/v1/channels/{cid}", {"senders": senders})
    assert status == 422 and refused["error"]["code"] == "invalid_provider_config"
    assert api.call("GET", f"/v1/channels/{cid}")[1] == cloud
    # WHEN it comes with the config naming both THEN both change
    config = {"waba_id": WABA, "phone_number_ids": {SENDER: "1", "+14155238887": "2"}}
    status, patched = api.call("PATCH", f"/v1/channels/{cid}", {"senders": senders, "provider_config": config})
    assert status == 200, patched
    assert patched["senders"] == senders and patched["provider_config"] == config
    assert api.call("GET", f"/v1/channels/{cid}")[1] == patched


# ------------------------------------------------------------------------------------------------- templates
def test_sync_stores_every_template_and_the_listing_reads_them_by_status_and_one_by_one(
    api: Api, cloud: dict[str, Any]
) -> None:
    # GIVEN a Cloud channel whose account lists the sandbox's five templates
    cid = cloud["id"]
    # WHEN synced
    status, synced = api.call("POST", f"/v1/channels/{cid}/templates/sync")
    # THEN all five are stored, counted by status
    assert status == 200, synced
    assert synced["total"] == 5 and [t["name"] for t in synced["items"]][:2] == ["hello_world", "order_update"]
    assert synced["counts"] == {"approved": 3, "pending": 1, "rejected": 0, "paused": 1, "disabled": 0}
    # AND the listing pages through them, and filters by status
    status, first = api.call("GET", f"/v1/channels/{cid}/templates?limit=2")
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    status, rest = api.call("GET", f"/v1/channels/{cid}/templates?limit=10&cursor={first['next_cursor']}")
    assert [t["id"] for t in first["items"] + rest["items"]] == ["1001", "1002", "1003", "1004", "1005"]
    status, approved = api.call("GET", f"/v1/channels/{cid}/templates?status=approved")
    assert [t["name"] for t in approved["items"]] == ["hello_world", "order_update", "spring_promo"]
    # AND one reads as the contract spells it
    promo = template(api, cid, "1003")
    assert promo["header"] == {"type": "image"} and promo["buttons"] == [
        {"type": "quick_reply", "text": "Stop promotions"}
    ]
    order = template(api, cid, "1002")
    assert (order["variables"], order["parameter_format"], order["category"]) == (["1", "2"], "positional", "utility")
    assert api.call("GET", f"/v1/channels/{cid}/templates/9999")[0] == 404
    assert api.call("GET", f"/v1/channels/{cid}/templates?status=approvedish")[0] == 400


def test_template_routes_on_an_sms_channel_answer_422_and_on_another_tenants_404(
    api: Api, channel: dict[str, Any], cloud: dict[str, Any], client: Any, env: Env
) -> None:
    # GIVEN the Twilio SMS channel WHEN its templates are synced, listed or read THEN 422 templates_not_supported
    for method, path in (("POST", "/templates/sync"), ("GET", "/templates"), ("GET", "/templates/1001")):
        status, refused = api.call(method, f"/v1/channels/{channel['id']}{path}")
        assert status == 422 and refused["error"]["code"] == "templates_not_supported", (method, path)
    # AND another tenant's key does not find the Cloud channel's templates
    from chalicelib.services.tenants import create_tenant

    _, other_key = create_tenant(env.deps, "Other PBX")
    other = Api(client, other_key)
    assert other.call("POST", f"/v1/channels/{cloud['id']}/templates/sync")[0] == 404
    assert other.call("GET", f"/v1/channels/{cloud['id']}/templates")[0] == 404


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (ProviderRefusedError("Meta refused the access token (190)"), 422, "provider_refused"),
        (TimeoutError("read timed out"), 503, "provider_unavailable"),
    ],
)
def test_a_provider_that_does_not_list_answers_a_clear_error_and_keeps_the_stored_templates(
    api: Api, cloud: dict[str, Any], account: FakeCloudAccount, failure: BaseException, status: int, code: str
) -> None:
    # GIVEN a synced channel whose provider then refuses (or does not answer)
    cid = cloud["id"]
    assert api.call("POST", f"/v1/channels/{cid}/templates/sync")[0] == 200
    account.listed, account.listing_fails = [], failure
    # WHEN synced again THEN the error is in the contract's shape, and the templates are as they were
    got, refused = api.call("POST", f"/v1/channels/{cid}/templates/sync")
    assert got == status and refused["error"]["code"] == code
    assert len(api.call("GET", f"/v1/channels/{cid}/templates")[1]["items"]) == 5


def test_deleting_a_channel_deletes_its_templates(api: Api, cloud: dict[str, Any], env: Env) -> None:
    # GIVEN a synced channel WHEN deleted THEN its templates are gone from the table
    cid = cloud["id"]
    tenant_id = env.deps.channels.tenant_of(cid)
    api.call("POST", f"/v1/channels/{cid}/templates/sync")
    assert api.call("DELETE", f"/v1/channels/{cid}")[0] == 204
    assert env.deps.templates.list(tenant_id, cid, 50, None).items == []


# --------------------------------------------------------------------------------------------- Meta's webhook
def test_the_handshake_echoes_the_challenge_as_text_for_the_channels_verify_token(
    client: Any, cloud: dict[str, Any]
) -> None:
    # GIVEN the channel's webhook URL WHEN Meta verifies it with the channel's token
    query = f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    response = client.http.get(f"/webhooks/whatsapp/{cloud['id']}?{query}")
    # THEN the challenge comes back as plain text
    assert response.status_code == 200 and response.body == b"1158201444"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        "hub.mode=subscribe&hub.verify_token=wrong-token&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=" + VERIFY_TOKEN + "&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "",
    ],
)
def test_a_wrong_verify_token_or_handshake_is_403(client: Any, cloud: dict[str, Any], query: str) -> None:
    # GIVEN a handshake with a wrong token, another mode, no token or nothing WHEN sent THEN 403 invalid_signature
    response = client.http.get(f"/webhooks/whatsapp/{cloud['id']}?{query}".rstrip("?"))
    assert response.status_code == 403
    assert json.loads(response.body)["error"]["code"] == "invalid_signature"
    unknown = client.http.get(f"/webhooks/whatsapp/ch_nope?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}")
    assert unknown.status_code == 403


@pytest.mark.parametrize("forgery", ["wrong_secret", "missing", "altered", "not_hex"])
def test_a_forged_missing_or_altered_signature_is_403_and_changes_nothing(
    api: Api, client: Any, cloud: dict[str, Any], forgery: str
) -> None:
    # GIVEN a synced channel, and Meta's report that a template was paused with an inbound message beside it
    cid = cloud["id"]
    api.call("POST", f"/v1/channels/{cid}/templates/sync")
    inbound = {"from": "14155550100", "id": "wamid.in1", "timestamp": "1", "type": "text", "text": {"body": "hi"}}
    body = json.dumps(envelope(template_change("1002", "PAUSED"), messages_change(inbound))).encode()
    signature: str | None = {"wrong_secret": sign(body, "not-the-secret"), "missing": None}.get(forgery, sign(body))
    if forgery == "altered":
        body = body.replace(b"PAUSED", b"PAUSE ")
    if forgery == "not_hex":
        signature = "sha256=zz"
    # WHEN it arrives so THEN 403 invalid_signature
    status, refused = post_meta(client, cid, None, raw=body, signature=signature)
    assert status == 403 and refused["error"]["code"] == "invalid_signature"
    # AND the template is still approved
    assert template(api, cid, "1002")["status"] == "approved"


def test_a_signed_template_update_is_recorded_and_a_replay_changes_nothing_more(
    api: Api, client: Any, cloud: dict[str, Any]
) -> None:
    # GIVEN a synced channel WHEN Meta reports order_update paused, signed, twice (its retry)
    cid = cloud["id"]
    api.call("POST", f"/v1/channels/{cid}/templates/sync")
    batch = envelope(template_change("1002", "PAUSED", reason="LOW_QUALITY"))
    status, answer = post_meta(client, cid, batch)
    replay = post_meta(client, cid, batch)
    # THEN each is 200 with what it recorded, and the template is paused with Meta's word and reason
    assert status == 200 and answer == {
        "received": {"statuses": 0, "messages": 0, "template_updates": 1, "preferences": 0}
    }
    assert replay[0] == 200
    paused = template(api, cid, "1002")
    assert (paused["status"], paused["provider_status"], paused["reason"]) == ("paused", "PAUSED", "LOW_QUALITY")
    assert paused["updated_at"] >= paused["synced_at"]
    # AND the listing shows it among the paused ones
    listed = api.call("GET", f"/v1/channels/{cid}/templates?status=paused")[1]["items"]
    assert sorted(t["name"] for t in listed) == ["old_offer", "order_update"]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"object": "page", "entry": [{"changes": "x"}]}'])
def test_a_signed_body_not_of_metas_shape_is_answered_200_and_changes_nothing(
    api: Api, client: Any, cloud: dict[str, Any], raw: bytes
) -> None:
    # GIVEN a synced channel WHEN a correctly signed body that is not Meta's shape arrives
    cid = cloud["id"]
    api.call("POST", f"/v1/channels/{cid}/templates/sync")
    status, answer = post_meta(client, cid, None, raw=raw)
    # THEN it is answered 200 (so Meta stops sending it) with nothing recorded
    assert status == 200 and answer == {
        "received": {"statuses": 0, "messages": 0, "template_updates": 0, "preferences": 0}
    }
    assert all(t["status"] == "approved" for t in (template(api, cid, i) for i in ("1001", "1002", "1003")))
