"""The provider webhooks through the `webhooks` function's URL: real function URL events (payload 2.0) handed to
app.webhooks against moto, signed as Twilio and Meta sign them over the webhook base (WEBHOOK_BASE_URL).

Every answer is also checked against the OpenAPI document, as the test client's are."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from twilio.request_validator import RequestValidator

import app as app_module
from chalicelib import config, wiring
from chalicelib.adapters.providers import whatsapp_cloud
from tests.conftest import PUBLIC_BASE, SENDER, SIM_ACCOUNT, SIM_TOKEN, Api, Env, campaign_body, set_settings
from tests.fakes.whatsapp import APP_SECRET, VERIFY_TOKEN, envelope, template_change
from tests.functional.test_webhooks import callback_params, recipient, result
from tests.functional.test_whatsapp_api import account, cloud, template  # noqa: F401 - fixtures
from tests.openapi_answers import check_answer

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
DOMAIN = f"{URL_ID}.lambda-url.us-east-1.on.aws"
WEBHOOK_BASE = f"https://{DOMAIN}"
NUMBERS = ["+14155550100", "+14155550101"]
FORM = "application/x-www-form-urlencoded"


def url_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0) as Lambda hands it to the function."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {name.lower(): value for name, value in (headers or {}).items()} | {"host": DOMAIN},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": DOMAIN,
            "domainPrefix": URL_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "TwilioProxy/1.1",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1_773_342_238_000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def _route_of(event: Any) -> tuple[str, str] | None:
    """The method and webhook path of a readable event. (The document describes the API: a /v1 path answered 404
    by the function URL is not one of its answers.)"""
    context = event.get("requestContext") if isinstance(event, dict) else None
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else None
    path = event.get("rawPath") if isinstance(event, dict) else None
    if isinstance(method, str) and isinstance(path, str) and path.startswith("/webhooks/"):
        return method, path
    return None


def call(event: Any) -> tuple[int, dict[str, str], Any]:
    """app.webhooks as Lambda calls it; the answer checked against the document; (status, headers, body)."""
    answer = app_module.webhooks(event, None)
    assert set(answer) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}
    raw = base64.b64decode(answer["body"]) if answer["isBase64Encoded"] else answer["body"].encode()
    route = _route_of(event)
    if route is not None:
        check_answer(*route, answer["statusCode"], answer["headers"], raw)
    text = raw.decode("utf-8")
    is_json = answer["headers"].get("content-type", "").startswith("application/json")
    return answer["statusCode"], answer["headers"], json.loads(text) if is_json and text else text


def twilio_post(url: str, params: Mapping[str, str], *, token: str = SIM_TOKEN, sign_url: str | None = None, b64=False):
    """The function URL event of Twilio's POST to `url` (base + path + query), signed over `sign_url` (default: url)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == WEBHOOK_BASE
    signature = RequestValidator(token).compute_signature(sign_url or url, dict(params))
    body = urlencode(params)
    return url_event(
        "POST",
        parts.path,
        query=parts.query,
        headers={"Content-Type": FORM, "X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": "idem-1"},
        body=base64.b64encode(body.encode()).decode() if b64 else body,
        base64_encoded=b64,
    )


@pytest.fixture
def hooks(env: Env) -> str:
    """The deployment's webhooks come in through the function URL (WEBHOOK_BASE_URL), the API through PUBLIC_BASE."""
    set_settings(env, webhook_base_url=WEBHOOK_BASE)
    return WEBHOOK_BASE


@pytest.fixture
def sent(hooks: str, api: Api, channel: dict[str, Any], pump: Any, env: Env) -> dict[str, Any]:
    """A campaign of two, each message sent; the provider's message per number, as the simulator has it."""
    status, created = api.call("POST", "/v1/campaigns", campaign_body(NUMBERS, channel["id"]))
    assert status == 201, created
    pump.drain()
    by_number = {m["to"]: m for m in env.sim.messages()}
    assert sorted(by_number) == NUMBERS
    return {"campaign": created, "messages": by_number, "channel": channel}


# ------------------------------------------------------------------------------------------ the URLs handed out
def test_the_callback_url_given_to_twilio_and_the_channels_webhook_urls_are_at_the_webhook_base(
    api: Api, sent: dict[str, Any]
) -> None:
    # GIVEN WEBHOOK_BASE_URL set WHEN a campaign was sent THEN the StatusCallback Twilio got is at the webhook base
    channel_id = sent["channel"]["id"]
    callback = sent["messages"][NUMBERS[0]]["status_callback"]
    assert callback.startswith(f"{WEBHOOK_BASE}/webhooks/twilio/{channel_id}/status?")
    # AND the channel's answer shows the webhook URLs at that base, not at the API's
    status, shown = api.call("GET", f"/v1/channels/{channel_id}")
    assert status == 200
    assert shown["webhooks"]["status_callback_url"] == f"{WEBHOOK_BASE}/webhooks/twilio/{channel_id}/status"
    assert shown["webhooks"]["inbound_url"] == f"{WEBHOOK_BASE}/webhooks/twilio/{channel_id}/inbound"
    # AND the OpenAPI document's server is still the public API's
    status, document = api.call("GET", "/v1/openapi.json")
    assert document["servers"][0]["url"].startswith(PUBLIC_BASE)


def test_without_webhook_base_url_the_urls_are_at_the_public_base(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN no WEBHOOK_BASE_URL WHEN the channel is shown THEN its webhook URLs are at PUBLIC_BASE_URL (the default)
    status, shown = api.call("GET", f"/v1/channels/{channel['id']}")
    assert status == 200
    assert shown["webhooks"]["status_callback_url"] == f"{PUBLIC_BASE}/webhooks/twilio/{channel['id']}/status"


def test_the_webhooks_function_reads_its_own_url_from_ssm(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the function URL in the SSM parameter the template writes, and only its name in the environment
    boto3.client("ssm").put_parameter(
        Name="/msgcampaigns/stack/webhook-base-url", Value=WEBHOOK_BASE + "/", Type="String", Overwrite=True
    )
    monkeypatch.setenv("WEBHOOK_BASE_URL_PARAMETER", "/msgcampaigns/stack/webhook-base-url")
    monkeypatch.delenv("WEBHOOK_BASE_URL", raising=False)
    config.settings.cache_clear()
    # WHEN the container's dependencies are built THEN the webhook base is that URL, without its trailing slash
    assert wiring.build(config.settings()).settings.webhook_base == WEBHOOK_BASE
    # AND a WEBHOOK_BASE_URL given directly (a custom domain) wins, with no SSM read
    monkeypatch.setenv("WEBHOOK_BASE_URL", "https://hooks.example.com/")
    monkeypatch.setenv("WEBHOOK_BASE_URL_PARAMETER", "/msgcampaigns/stack/missing")
    config.settings.cache_clear()
    assert wiring.build(config.settings()).settings.webhook_base == "https://hooks.example.com"


# ------------------------------------------------------------------------------------------------- Twilio
@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
def test_a_signed_status_callback_through_the_url_moves_the_recipient(
    api: Api, sent: dict[str, Any], b64: bool
) -> None:
    # GIVEN a sent message and the callback URL Twilio was given for it
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    # WHEN Twilio posts "delivered" there, signed over that URL and every form field (a blank one too), the body
    # as text or base64
    params = callback_params(message, "delivered") | {"MessagingServiceSid": ""}
    status, _, body = call(twilio_post(message["status_callback"], params, b64=b64))
    # THEN it is answered 204 and the recipient is delivered, counted once
    assert status == 204, body
    assert recipient(api, cid, NUMBERS[0])["status"] == "delivered"
    assert result(api, cid)["delivered"] == 1
    assert recipient(api, cid, NUMBERS[1])["status"] == "sent"


def test_a_status_callback_signed_otherwise_is_403_and_changes_nothing(api: Api, sent: dict[str, Any]) -> None:
    # GIVEN a sent message and its callback URL
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    url = message["status_callback"]
    params = callback_params(message, "delivered")
    before = recipient(api, cid, NUMBERS[0])
    api_url = PUBLIC_BASE + url[len(WEBHOOK_BASE) :]
    # WHEN it comes signed with another token, over the API's URL instead of the function URL's, or without the
    # blank field that was signed
    forged = twilio_post(url, params, token="not-the-auth-token")
    other_base = twilio_post(url, params, sign_url=api_url)
    dropped = twilio_post(url, params | {"MessagingServiceSid": ""})
    dropped["body"] = urlencode(params)
    unsigned = twilio_post(url, params)
    del unsigned["headers"]["x-twilio-signature"]
    # THEN each is 403 invalid_signature
    for event in (forged, other_base, dropped, unsigned):
        status, _, body = call(event)
        assert status == 403 and body["error"]["code"] == "invalid_signature", body
    # AND nothing moved or was counted
    assert recipient(api, cid, NUMBERS[0]) == before
    assert result(api, cid)["delivered"] == 0


def test_a_signed_inbound_stop_through_the_url_opts_the_number_out(
    hooks: str, api: Api, channel: dict[str, Any]
) -> None:
    # GIVEN the channel's inbound URL as its answer shows it WHEN a contact texts STOP and Twilio posts it there
    url = api.call("GET", f"/v1/channels/{channel['id']}")[1]["webhooks"]["inbound_url"]
    params = {
        "MessageSid": "SM" + "1" * 32,
        "SmsMessageSid": "SM" + "1" * 32,
        "AccountSid": SIM_ACCOUNT,
        "From": NUMBERS[0],
        "To": SENDER,
        "Body": "STOP",
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    status, headers, body = call(twilio_post(url, params))
    # THEN it is answered with empty TwiML and the number is on the tenant's opt-out list
    assert status == 200 and headers["content-type"] == "text/xml" and "<Response></Response>" in body
    status, listed = api.call("GET", "/v1/opt-outs")
    assert status == 200 and [o["number"] for o in listed["items"]] == [NUMBERS[0]]


# -------------------------------------------------------------------------------------------------- Meta
@pytest.fixture
def meta(hooks: str, cloud: dict[str, Any], api: Api, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    """A synced WhatsApp Cloud channel whose webhook signatures the real X-Hub-Signature-256 check verifies."""
    monkeypatch.setitem(
        wiring.VERIFIERS, "whatsapp_cloud", lambda channel, creds: whatsapp_cloud.HubSignature(creds["app_secret"])
    )
    assert api.call("POST", f"/v1/channels/{cloud['id']}/templates/sync")[0] == 200
    assert cloud["webhooks"]["status_callback_url"] == f"{WEBHOOK_BASE}/webhooks/whatsapp/{cloud['id']}"
    return cloud


def meta_post(channel_id: str, body: bytes, signature: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return url_event("POST", f"/webhooks/whatsapp/{channel_id}", headers=headers, body=body.decode())


def test_a_signed_meta_webhook_through_the_url_is_recorded(api: Api, meta: dict[str, Any]) -> None:
    # GIVEN Meta's report that a template was paused WHEN it comes signed over its raw body
    body = json.dumps(envelope(template_change("1002", "PAUSED", reason="LOW_QUALITY"))).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, _, answer = call(meta_post(meta["id"], body, signature))
    # THEN it is answered 200 with what was recorded, and the template is paused
    assert status == 200, answer
    assert answer["received"]["template_updates"] == 1
    assert template(api, meta["id"], "1002")["status"] == "paused"


def test_a_meta_webhook_with_a_wrong_signature_is_403_and_changes_nothing(api: Api, meta: dict[str, Any]) -> None:
    # GIVEN the same report WHEN it is signed with another secret, or not at all
    body = json.dumps(envelope(template_change("1002", "PAUSED"))).encode()
    wrong = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    for signature in (wrong, None):
        status, _, answer = call(meta_post(meta["id"], body, signature))
        # THEN 403 invalid_signature
        assert status == 403 and answer["error"]["code"] == "invalid_signature"
    # AND the template is still approved
    assert template(api, meta["id"], "1002")["status"] == "approved"


def test_metas_verification_handshake_through_the_url(meta: dict[str, Any]) -> None:
    # GIVEN the channel's webhook URL WHEN Meta verifies it with the channel's token (hub.* in the query)
    query = f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    status, headers, body = call(url_event("GET", f"/webhooks/whatsapp/{meta['id']}", query=query))
    # THEN the challenge comes back as plain text
    assert (status, body) == (200, "1158201444")
    assert headers["content-type"].startswith("text/plain")
    # AND with a wrong token it is 403
    wrong = "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444"
    status, _, body = call(url_event("GET", f"/webhooks/whatsapp/{meta['id']}", query=wrong))
    assert status == 403 and body["error"]["code"] == "invalid_signature"


# ----------------------------------------------------------------------------------- only the webhook routes
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/health"),
        ("GET", "/v1/campaigns"),
        ("GET", "/v1/openapi.json"),
        ("POST", "/webhooks/nope"),
        ("POST", "/webhooks/twilio/ch_1/status/extra"),
        ("POST", "/webhooks/twilio//status"),
        ("POST", "/webhooks/twilio/ch_1/STATUS"),
        ("GET", "/"),
        ("GET", ""),
        ("GET", "/webhooks/" + "x" * 5000),
    ],
)
def test_any_other_path_answers_404_in_the_contracts_shape(env: Env, api: Api, method: str, path: str) -> None:
    # GIVEN the function URL WHEN a path that is no webhook route is called (with the tenant's own key even)
    event = url_event(method, path, headers={"Authorization": f"Bearer {api.key}"})
    status, _, body = call(event)
    # THEN 404 not_found: the PBX API is not served through the function URL
    assert status == 404
    assert body["error"]["code"] == "not_found" and body["error"]["message"]


def test_a_method_the_route_does_not_have_is_405(hooks: str) -> None:
    # GIVEN a webhook route WHEN called with a method it does not serve THEN 405 in the contract's shape
    status, headers, body = call(url_event("DELETE", "/webhooks/whatsapp/ch_1"))
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert set(headers["allow"].split(", ")) == {"GET", "POST"}


def _malformed() -> list[Any]:
    good = url_event("POST", "/webhooks/twilio/ch_1/status", headers={"Content-Type": FORM}, body="a=1")
    no_context = {k: v for k, v in good.items() if k != "requestContext"}
    no_method = json.loads(json.dumps(good))
    del no_method["requestContext"]["http"]["method"]
    return [
        None,
        [],
        "POST /webhooks",
        {},
        no_context,
        good | {"requestContext": "x"},
        good | {"requestContext": {"http": None}},
        no_method,
        good | {"rawPath": None, "requestContext": {"http": {"method": "POST"}}},
        good | {"rawPath": 7},
        good | {"rawQueryString": ["a"]},
        good | {"headers": ["content-type"]},
        good | {"headers": {"content-type": 1}},
        good | {"cookies": "a=b"},
        good | {"body": {"a": 1}},
        good | {"body": "a=1&b=%%%", "isBase64Encoded": True},
        good | {"body": "YQ", "isBase64Encoded": True},  # padding missing
    ]


@pytest.mark.parametrize("event", _malformed())
def test_a_malformed_event_is_answered_400_never_a_5xx(hooks: str, event: Any) -> None:
    # GIVEN an event that is not a readable function URL request WHEN handed to the function THEN 400 invalid_request
    status, _, body = call(event)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "path",
    ["/webhooks/twilio/%ZZ/status", "/webhooks/twilio/%C3%28/status", "/webhooks/twilio/ch%2F1/status"],
)
def test_a_strange_channel_id_is_refused_as_unsigned_never_a_5xx(hooks: str, path: str) -> None:
    # GIVEN a webhook path whose channel id is badly percent-encoded WHEN posted THEN 403, as for any unknown channel
    event = url_event("POST", path, headers={"Content-Type": FORM, "X-Twilio-Signature": "x"}, body="a=1")
    status, _, body = call(event)
    assert status == 403 and body["error"]["code"] == "invalid_signature"
