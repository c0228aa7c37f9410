"""Twilio status callbacks through the Chalice test client: signature first, then forward-only moves counted once."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
import pytest
from twilio.request_validator import RequestValidator

from chalicelib.services.tenants import create_tenant
from tests.conftest import PUBLIC_BASE, SENDER, SIM_ACCOUNT, SIM_TOKEN, Api, Env, campaign_body

NUMBERS = ["+14155550100", "+14155550101", "+14155550102"]
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def sent(api: Api, channel: dict[str, Any], pump: Any, env: Env) -> dict[str, Any]:
    """A completed campaign of three, every message sent; each number's provider message as the simulator has it."""
    status, created = api.call("POST", "/v1/campaigns", campaign_body(NUMBERS, channel["id"]))
    assert status == 201, created
    pump.drain()
    by_number = {m["to"]: m for m in env.sim.messages()}
    assert sorted(by_number) == NUMBERS
    return {"campaign": created, "messages": by_number}


def callback_params(message: dict[str, Any], status: str, error_code: str | None = None) -> dict[str, str]:
    """The form Twilio posts to a status callback."""
    params = {
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": message["account_sid"],
        "From": message["from"],
        "To": message["to"],
        "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        params["ErrorCode"] = error_code
    return params


def post_callback(
    client: Any,
    url: str,
    params: dict[str, str],
    *,
    token: str = SIM_TOKEN,
    signature: str | None = None,
    signed: bool = True,
) -> tuple[int, Any]:
    """POST a status callback to `url` (a full public URL) as Twilio would, signed with `token` unless told."""
    assert url.startswith(PUBLIC_BASE)
    headers = {"Content-Type": FORM}
    if signed:
        headers["X-Twilio-Signature"] = signature or RequestValidator(token).compute_signature(url, params)
    response = client.http.post(url[len(PUBLIC_BASE) :], headers=headers, body=urlencode(params))
    body = response.body.decode("utf-8") if isinstance(response.body, bytes) else response.body
    return response.status_code, (json.loads(body) if body and body.startswith("{") else body)


def recipient(api: Api, campaign_id: str, number: str) -> dict[str, Any]:
    status, page = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients")
    assert status == 200
    return next(r for r in page["items"] if r["number"] == number)


def result(api: Api, campaign_id: str) -> dict[str, int]:
    status, campaign = api.call("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200
    return campaign["result"]


def test_callback_with_forged_or_missing_signature_is_refused_and_changes_nothing(
    client: Any, api: Api, sent: dict[str, Any]
) -> None:
    # GIVEN a sent message and the callback URL the provider was given for it
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    url = message["status_callback"]
    params = callback_params(message, "delivered")
    before = recipient(api, cid, NUMBERS[0])
    assert before["status"] == "sent"
    # WHEN the callback is signed with another token, carries no signature, or its signed fields were altered
    forged = post_callback(client, url, params, token="not-the-auth-token")
    missing = post_callback(client, url, params, signed=False)
    tampered = post_callback(
        client,
        url,
        {**params, "MessageStatus": "read"},
        signature=RequestValidator(SIM_TOKEN).compute_signature(url, params),
    )
    other_recipient = post_callback(
        client, url.replace("r=0", "r=1"), params, signature=RequestValidator(SIM_TOKEN).compute_signature(url, params)
    )
    # THEN each is a 403 in the contract's error shape
    for status, body in (forged, missing, tampered, other_recipient):
        assert status == 403, body
        assert body["error"]["code"] == "invalid_signature"
        assert body["error"]["message"]
    # AND nothing moved or was counted
    assert recipient(api, cid, NUMBERS[0]) == before
    assert recipient(api, cid, NUMBERS[1])["status"] == "sent"
    assert result(api, cid)["delivered"] == 0 and result(api, cid)["read"] == 0


def test_delivered_callback_counts_once_even_when_replayed(client: Any, api: Api, sent: dict[str, Any]) -> None:
    # GIVEN a sent message
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    params = callback_params(message, "delivered")
    # WHEN Twilio reports it delivered
    status, _ = post_callback(client, message["status_callback"], params)
    # THEN the recipient is delivered and the campaign counts one delivery
    assert status == 204
    rec = recipient(api, cid, NUMBERS[0])
    assert rec["status"] == "delivered" and rec["delivered_at"] and rec["provider_message_id"] == message["sid"]
    assert result(api, cid) == {
        "total": 3,
        "sent": 3,
        "delivered": 1,
        "read": 0,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
    }
    # WHEN the same callback is replayed twice
    for _ in range(2):
        status, _ = post_callback(client, message["status_callback"], params)
        assert status == 204
    # THEN it is still counted once
    assert result(api, cid)["delivered"] == 1
    assert recipient(api, cid, NUMBERS[0])["status"] == "delivered"


def test_delivered_report_about_an_earlier_attempt_is_ignored(
    client: Any, api: Api, env: Env, sent: dict[str, Any]
) -> None:
    # GIVEN a sent message whose callback URL names its attempt (1) and counter shard (the one-write path)
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[1]]
    assert "a=1" in message["status_callback"] and "s=" in message["status_callback"]
    # AND the recipient has since moved on to a second attempt (a retry sending it again)
    index = NUMBERS.index(NUMBERS[1])
    assert env.deps.recipients.set_fields(cid, index, {"attempts": 2}, only_if_missing="no_such_field")
    # WHEN the first attempt's "delivered" report arrives
    status, _ = post_callback(client, message["status_callback"], callback_params(message, "delivered"))
    # THEN it is accepted and ignored: the recipient is not delivered and nothing is counted
    assert status == 204
    assert recipient(api, cid, NUMBERS[1])["status"] == "sent"
    assert result(api, cid)["delivered"] == 0
    # AND the same report for the current attempt is recorded, once
    current = message["status_callback"].replace("a=1", "a=2")
    assert post_callback(client, current, callback_params(message, "delivered"))[0] == 204
    assert post_callback(client, current, callback_params(message, "delivered"))[0] == 204
    assert recipient(api, cid, NUMBERS[1])["status"] == "delivered"
    assert result(api, cid)["delivered"] == 1


def test_late_sent_after_read_never_moves_a_recipient_back(client: Any, api: Api, sent: dict[str, Any]) -> None:
    # GIVEN a message Twilio reported delivered, then read
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[1]]
    url = message["status_callback"]
    for st in ("delivered", "read"):
        assert post_callback(client, url, callback_params(message, st))[0] == 204
    read = recipient(api, cid, NUMBERS[1])
    assert read["status"] == "read" and read["read_at"]
    # WHEN the earlier `sent` and `delivered` reports arrive late
    for st in ("sent", "delivered"):
        assert post_callback(client, url, callback_params(message, st))[0] == 204
    # THEN it stays read, counted once as delivered and once as read
    assert recipient(api, cid, NUMBERS[1]) == read
    figures = result(api, cid)
    assert (figures["sent"], figures["delivered"], figures["read"]) == (3, 1, 1)


def test_undelivered_with_error_30003_counts_a_failure_with_the_code(
    client: Any, api: Api, sent: dict[str, Any]
) -> None:
    # GIVEN a sent message
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[2]]
    params = callback_params(message, "undelivered", error_code="30003")
    # WHEN Twilio reports it undelivered with 30003 (unreachable handset), and replays that report
    assert post_callback(client, message["status_callback"], params)[0] == 204
    assert post_callback(client, message["status_callback"], params)[0] == 204
    # THEN the campaign counts exactly one failure, the recipient shows Twilio's code
    figures = result(api, cid)
    assert (figures["failed"], figures["sent"], figures["pending"]) == (1, 2, 0)
    rec = recipient(api, cid, NUMBERS[2])
    assert rec["status"] == "undelivered"
    assert rec["error"]["code"] == "30003"
    assert "unreachable" in rec["error"]["message"].lower()
    status, failed = api.call("GET", f"/v1/campaigns/{cid}/recipients?status=undelivered")
    assert [r["number"] for r in failed["items"]] == [NUMBERS[2]]
    # AND ?status=failed lists exactly what result.failed counts: the undelivered one too
    status, listed = api.call("GET", f"/v1/campaigns/{cid}/recipients?status=failed")
    assert status == 200 and [r["number"] for r in listed["items"]] == [NUMBERS[2]] and figures["failed"] == 1


def test_callback_on_another_tenants_channel_changes_nothing(
    client: Any, api: Api, sent: dict[str, Any], env: Env
) -> None:
    # GIVEN tenant B with its own Twilio channel (its own auth token), and tenant A's sent campaign
    _, key_b = create_tenant(env.deps, "B")
    api_b = Api(client, key_b)
    token_b = "tenant-b-auth-token"
    status, channel_b = api_b.call(
        "POST",
        "/v1/channels",
        {
            "name": "B SMS",
            "type": "sms",
            "provider": "twilio",
            "senders": [SENDER],
            "credentials": {"account_sid": SIM_ACCOUNT, "auth_token": token_b},
        },
    )
    assert status == 201, channel_b
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    channel_a = sent["campaign"]["channel_id"]
    on_b = message["status_callback"].replace(f"/twilio/{channel_a}/", f"/twilio/{channel_b['id']}/")
    params = callback_params(message, "delivered")
    # WHEN B's channel (validly signed with B's token) reports A's campaign's recipient delivered
    status, _ = post_callback(client, on_b, params, token=token_b)
    assert status == 204
    # AND A's callback URL is posted with B's signature
    status_a, body_a = post_callback(client, message["status_callback"], params, token=token_b)
    # AND an unknown channel reports it
    unknown = message["status_callback"].replace(f"/twilio/{channel_a}/", "/twilio/ch_nosuchchannel/")
    status_u, body_u = post_callback(client, unknown, params)
    # THEN the mismatched signatures are refused, and A's recipient and figures are unchanged
    assert status_a == 403 and body_a["error"]["code"] == "invalid_signature"
    assert status_u == 403 and body_u["error"]["code"] == "invalid_signature"
    assert recipient(api, cid, NUMBERS[0])["status"] == "sent"
    assert result(api, cid)["delivered"] == 0


def test_callback_that_overtakes_the_sender_is_kept_and_counted_once(
    client: Any, api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN a provider whose `delivered` callback reaches us before the sender has recorded the send
    make_provider = env.deps.provider_for

    class Overtaken:
        def __init__(self, provider: Any) -> None:
            self.provider = provider

        def send(self, **kwargs: Any) -> Any:
            outcome = self.provider.send(**kwargs)
            message = next(m for m in env.sim.messages() if m["sid"] == outcome.message_id)
            assert post_callback(client, kwargs["status_callback"], callback_params(message, "delivered"))[0] == 204
            return outcome

    env.deps.provider_for = lambda ch, creds: Overtaken(make_provider(ch, creds))
    # WHEN a campaign of two is sent
    status, created = api.call("POST", "/v1/campaigns", campaign_body(NUMBERS[:2], channel["id"]))
    assert status == 201, created
    pump.drain()
    # THEN the later record of the send does not undo the delivery nor count it again; the campaign completes
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed"
    assert done["result"] == {"total": 2, "sent": 2, "delivered": 2, "read": 0, "failed": 0, "pending": 0, "skipped": 0}
    by_sid = {m["to"]: m["sid"] for m in env.sim.messages()}
    for number in NUMBERS[:2]:
        rec = recipient(api, created["id"], number)
        assert rec["status"] == "delivered" and rec["provider_message_id"] == by_sid[number]
        assert rec["sent_at"] and rec["delivered_at"]


# Bytes no UTF-8 decoder accepts; Twilio never sends such a body (it percent-encodes UTF-8).
UNDECODABLE = b"\xff\xfe=\x80"


def table_items(env: Env) -> list[Any]:
    """Every item of the table, in a stable order: an ignored webhook leaves them as they were."""
    items = boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))


def post_raw(client: Any, url: str, body: bytes, signature: str | None) -> tuple[int, Any]:
    """POST raw bytes as a Twilio webhook to `url` (a full public URL), with `signature` when given."""
    headers = {"Content-Type": FORM}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = client.http.post(url[len(PUBLIC_BASE) :], headers=headers, body=body)
    return response.status_code, (json.loads(response.body) if response.body else None)


def test_undecodable_body_without_a_good_signature_is_403_and_changes_nothing(
    client: Any, api: Api, env: Env, sent: dict[str, Any]
) -> None:
    # GIVEN a sent message, its status callback URL, the channel's inbound URL and the table as it is
    message = sent["messages"][NUMBERS[0]]
    status_url = message["status_callback"]
    channel_id = sent["campaign"]["channel_id"]
    inbound_url = f"{PUBLIC_BASE}/webhooks/twilio/{channel_id}/inbound"
    unknown_url = status_url.replace(f"/twilio/{channel_id}/", "/twilio/ch_nosuchchannel/")
    before = table_items(env)
    # AND bodies that are not UTF-8: bare bytes, and a real "read" report with one stray byte
    read_report = urlencode(callback_params(message, "read")).encode("ascii") + b"&Note=\xe9"
    forged = RequestValidator("not-the-auth-token").compute_signature(status_url, callback_params(message, "read"))
    for url in (status_url, inbound_url, unknown_url):
        for body in (UNDECODABLE, read_report):
            # WHEN each is posted with no signature, a garbage one, or one made with another token
            for signature in (None, "bm90IGEgc2lnbmF0dXJl", forged):
                status, answer = post_raw(client, url, body, signature)
                # THEN the signature is checked first: 403 invalid_signature, not a 400 about the body
                assert status == 403, (url, body, signature, answer)
                assert answer["error"]["code"] == "invalid_signature"
    # AND nothing moved, was counted or was kept
    assert recipient(api, sent["campaign"]["id"], NUMBERS[0])["status"] == "sent"
    assert result(api, sent["campaign"]["id"])["read"] == 0
    assert table_items(env) == before


def test_undecodable_body_with_a_good_signature_is_400_and_records_nothing(
    client: Any, api: Api, env: Env, sent: dict[str, Any]
) -> None:
    # GIVEN a "read" report with a byte that is not UTF-8, signed with the channel's token over its fields as they
    # decode with replacement characters (what the service checks the signature against)
    message = sent["messages"][NUMBERS[0]]
    url = message["status_callback"]
    body = urlencode(callback_params(message, "read")).encode("ascii") + b"&Note=\xe9"
    fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    signature = RequestValidator(SIM_TOKEN).compute_signature(url, fields)
    before = table_items(env)
    # WHEN it is posted
    status, answer = post_raw(client, url, body, signature)
    # THEN only now is the body judged: 400 invalid_request, and the report is not recorded
    assert status == 400 and answer["error"]["code"] == "invalid_request", answer
    assert recipient(api, sent["campaign"]["id"], NUMBERS[0])["status"] == "sent"
    assert table_items(env) == before
    # AND the same report as UTF-8, signed, is recorded (the signature above was otherwise a good one)
    good = urlencode({**fields, "Note": "é"})
    fixed = RequestValidator(SIM_TOKEN).compute_signature(url, {**fields, "Note": "é"})
    assert post_raw(client, url, good.encode("ascii"), fixed)[0] == 204
    assert recipient(api, sent["campaign"]["id"], NUMBERS[0])["status"] == "read"


def test_signed_webhooks_with_fields_larger_than_the_table_holds_are_answered_and_kept_bounded(
    client: Any, api: Api, env: Env, sent: dict[str, Any]
) -> None:
    # GIVEN the channel's inbound URL and a sent message's status callback URL
    message = sent["messages"][NUMBERS[0]]
    channel_id = sent["campaign"]["channel_id"]
    inbound_url = f"{PUBLIC_BASE}/webhooks/twilio/{channel_id}/inbound"
    inbound = {"AccountSid": SIM_ACCOUNT, "From": "+41415084545", "To": SENDER, "NumMedia": "0"}
    huge_sid = {**inbound, "MessageSid": "SM" + "b" * 2000, "Body": "hi"}
    huge_body = {**inbound, "MessageSid": "SMhuge1", "Body": "x" * 450_000}
    # WHEN Twilio (signed) posts a message whose id is longer than a table key may be, one with a 450 KB body, and a
    # status callback naming a campaign id longer than a key may be
    for params in (huge_sid, huge_body, huge_sid):
        status, answer = post_callback(client, inbound_url, params)
        # THEN each is answered as any inbound message (no 5xx: Twilio would retry it for nothing)
        assert status in (200, 204), answer
    forged_ref = message["status_callback"].replace(f"c={sent['campaign']['id']}", "c=" + "x" * 3000)
    status, answer = post_callback(client, forged_ref, callback_params(message, "delivered"))
    assert status in (200, 204), answer
    # AND the messages are kept once each, bounded: the long id by its digest (its retry above was recognised), the
    # long body cut and marked so
    kept = [
        i
        for i in boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"]
        if i.get("type", {}).get("S") == "inbound"
    ]
    assert len(kept) == 2, kept
    by_key = {i["message_sid"]["S"]: i for i in kept}
    digest = next(k for k in by_key if k.startswith("sha256:"))
    assert by_key[digest]["provider_message_id"]["S"].startswith("SMbbb")
    assert len(by_key["SMhuge1"]["body"]["S"]) == 16_384 and by_key["SMhuge1"]["body_truncated"]["BOOL"] is True
    # AND the report about a campaign that is not ours moved nothing
    assert recipient(api, sent["campaign"]["id"], NUMBERS[0])["status"] == "sent"
