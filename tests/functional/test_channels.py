"""Channels through the API on moto: their life, write-only credentials kept in Secrets Manager, in-use protection."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError
from twilio.request_validator import RequestValidator

from chalicelib.api.commands import create_campaign as create_command
from chalicelib.api.schemas import CampaignIn
from chalicelib.services import campaigns
from tests.conftest import PUBLIC_BASE, SENDER, SIM_ACCOUNT, SIM_TOKEN, Api, Env, campaign_body, once_before

NEW_TOKEN = "rotated-auth-token-fedcba9876543210"


def channel_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Promotions",
        "type": "sms",
        "provider": "twilio",
        "senders": [SENDER, "+41445084545"],
        "credentials": {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN},
        "mps": 5,
    }
    body.update(overrides)
    return body


def secret_of(env: Env, tenant_id: str, channel_id: str) -> dict[str, Any]:
    name = env.deps.secrets.name(tenant_id, channel_id)
    out = boto3.client("secretsmanager").get_secret_value(SecretId=name)
    return json.loads(out["SecretString"])


def table_text(env: Env) -> str:
    """Everything in the table, as text."""
    items = boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"]
    return json.dumps(items)


def inbound(api: Api, channel_id: str, token: str) -> int:
    """Status of a signed Twilio inbound-message webhook to the channel."""
    params = {
        "MessageSid": "SM" + "1" * 32,
        "From": "+14155550100",
        "To": SENDER,
        "Body": "hi",
        "AccountSid": SIM_ACCOUNT,
    }
    path = f"/webhooks/twilio/{channel_id}/inbound"
    signature = RequestValidator(token).compute_signature(PUBLIC_BASE + path, params)
    response = api.client.http.post(
        path,
        body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    return int(response.status_code)


def test_channel_life_never_shows_credentials_and_keeps_them_in_secrets_manager(
    env: Env, api: Api, tenant: tuple[str, str]
) -> None:
    tenant_id = tenant[0]
    answers: list[Any] = []
    # GIVEN a channel created with Twilio credentials
    status, created = api.call("POST", "/v1/channels", channel_body())
    answers.append(created)
    assert status == 201, created
    cid = created["id"]
    assert created["name"] == "Promotions" and created["type"] == "sms" and created["provider"] == "twilio"
    assert created["senders"] == [SENDER, "+41445084545"] and created["mps"] == 5
    # THEN the answer carries the webhook URLs to give Twilio
    assert created["webhooks"]["status_callback_url"] == f"{PUBLIC_BASE}/webhooks/twilio/{cid}/status"
    assert created["webhooks"]["inbound_url"] == f"{PUBLIC_BASE}/webhooks/twilio/{cid}/inbound"
    # AND the credentials are in Secrets Manager under the channel's name, not in the table
    assert secret_of(env, tenant_id, cid) == {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN}
    assert env.deps.secrets.name(tenant_id, cid) == f"msgcampaigns/{tenant_id}/{cid}"
    assert SIM_TOKEN not in table_text(env)
    # WHEN it is listed, read, and patched with a new name, mps and credentials
    status, listed = api.call("GET", "/v1/channels")
    answers.append(listed)
    assert status == 200 and [c["id"] for c in listed["items"]] == [cid] and listed["next_cursor"] is None
    status, got = api.call("GET", f"/v1/channels/{cid}")
    answers.append(got)
    assert status == 200 and got == created
    status, patched = api.call(
        "PATCH",
        f"/v1/channels/{cid}",
        {"name": "Renamed", "mps": 2, "credentials": {"account_sid": SIM_ACCOUNT, "auth_token": NEW_TOKEN}},
    )
    answers.append(patched)
    assert status == 200, patched
    assert patched["name"] == "Renamed" and patched["mps"] == 2 and patched["senders"] == created["senders"]
    status, got = api.call("GET", f"/v1/channels/{cid}")
    answers.append(got)
    assert got["name"] == "Renamed" and got["mps"] == 2
    # THEN the new credentials replaced the old ones in Secrets Manager, and still not in the table
    assert secret_of(env, tenant_id, cid)["auth_token"] == NEW_TOKEN
    assert NEW_TOKEN not in table_text(env)
    # AND no answer ever contained a credential
    text = json.dumps(answers)
    for secret in (SIM_TOKEN, NEW_TOKEN, SIM_ACCOUNT, "auth_token", "credentials"):
        assert secret not in text, secret
    # AND its webhooks now answer to the new token only
    assert inbound(api, cid, NEW_TOKEN) == 200
    assert inbound(api, cid, SIM_TOKEN) == 403
    # WHEN it is deleted
    status, body = api.call("DELETE", f"/v1/channels/{cid}")
    assert status == 204, body
    # THEN it is gone, and so are its credentials
    status, body = api.call("GET", f"/v1/channels/{cid}")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert api.call("GET", "/v1/channels")[1]["items"] == []
    with pytest.raises(ClientError):
        secret_of(env, tenant_id, cid)
    assert inbound(api, cid, NEW_TOKEN) == 403
    assert api.call("DELETE", f"/v1/channels/{cid}")[0] == 404


@pytest.mark.parametrize("kind", ["draft", "scheduled"])
def test_channel_used_by_an_unfinished_campaign_cannot_be_deleted(
    env: Env, api: Api, channel: dict[str, Any], kind: str
) -> None:
    # GIVEN a draft or scheduled campaign on the channel
    send_time: dict[str, Any] = {"type": kind}
    if kind == "scheduled":
        send_time["at"] = (env.deps.clock.utcnow() + timedelta(hours=1)).isoformat()
    status, campaign = api.call(
        "POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"], send_time=send_time)
    )
    assert status == 201, campaign
    # WHEN the PBX deletes the channel
    status, body = api.call("DELETE", f"/v1/channels/{channel['id']}")
    # THEN it is refused with 409 channel_in_use naming the campaign, and the channel and its credentials stay
    assert status == 409, body
    assert body["error"]["code"] == "channel_in_use"
    assert {"campaign_id": campaign["id"]} in body["error"]["details"]
    assert api.call("GET", f"/v1/channels/{channel['id']}")[0] == 200
    tenant_id = env.deps.channels.tenant_of(channel["id"])
    assert secret_of(env, str(tenant_id), channel["id"])["auth_token"] == SIM_TOKEN


def test_channel_whose_campaigns_all_completed_can_be_deleted(api: Api, channel: dict[str, Any], pump: Any) -> None:
    # GIVEN a campaign on the channel that has completed
    status, campaign = api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]))
    assert status == 201
    pump.drain()
    assert api.call("GET", f"/v1/campaigns/{campaign['id']}")[1]["status"] == "completed"
    # WHEN the channel is deleted, THEN it goes
    assert api.call("DELETE", f"/v1/channels/{channel['id']}")[0] == 204
    assert api.call("GET", f"/v1/channels/{channel['id']}")[0] == 404
    # AND the finished campaign is still readable
    assert api.call("GET", f"/v1/campaigns/{campaign['id']}")[0] == 200


def test_invalid_senders_and_mps_are_refused_and_create_nothing(api: Api, channel: dict[str, Any]) -> None:
    # GIVEN senders that are not E.164: no plus, spaces, Arabic-Indic digits, an impossible number
    bad = ["14155550100", "+1 415 555 0100", "+١٤١٥٥٥٥٠١٠٠", "+1999"]
    # WHEN a channel is created with them alongside a good one
    status, body = api.call("POST", "/v1/channels", channel_body(senders=[SENDER, *bad]))
    # THEN 422 invalid_phone_number lists each offender by position
    assert status == 422, body
    assert body["error"]["code"] == "invalid_phone_number"
    assert [d["field"] for d in body["error"]["details"]] == ["senders.1", "senders.2", "senders.3", "senders.4"]
    assert [d["value"] for d in body["error"]["details"]] == bad
    # AND mps outside (0, 1000] is refused too
    for mps in (0, -1, 1001):
        status, body = api.call("POST", "/v1/channels", channel_body(mps=mps))
        assert status == 422 and body["error"]["code"] == "invalid_mps", (mps, body)
    # AND nothing was created beyond the existing channel
    assert [c["id"] for c in api.call("GET", "/v1/channels")[1]["items"]] == [channel["id"]]
    # WHEN an existing channel is patched with a bad sender, THEN 422 and it is unchanged
    status, body = api.call("PATCH", f"/v1/channels/{channel['id']}", {"senders": ["+1 415 555 0100"]})
    assert status == 422 and body["error"]["code"] == "invalid_phone_number"
    assert api.call("GET", f"/v1/channels/{channel['id']}")[1]["senders"] == [SENDER]


def test_campaign_created_while_its_channel_is_being_deleted_keeps_the_channel(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a channel delete that has checked no campaign uses the channel, and a campaign created right then
    body = create_command(
        CampaignIn.model_validate(campaign_body(["+14155550100"], channel["id"], send_time={"type": "draft"}))
    )
    created: list[dict[str, Any]] = []
    ran = once_before(
        monkeypatch,
        env.deps.channels,
        "delete",
        lambda: created.append(campaigns.create_campaign(env.deps, tenant[0], body)[0]),
    )
    # WHEN the delete goes on
    status, answer = api.call("DELETE", f"/v1/channels/{channel['id']}")
    # THEN it notices the new campaign and refuses; the channel and its credentials stay
    assert ran == [True] and created[0]["status"] == "draft"
    assert status == 409 and answer["error"]["code"] == "channel_in_use", answer
    assert api.call("GET", f"/v1/channels/{channel['id']}")[0] == 200
    assert secret_of(env, tenant[0], channel["id"])["auth_token"] == SIM_TOKEN


def test_channel_deleted_while_a_campaign_is_being_created_on_it_leaves_no_campaign(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a campaign create that has found its channel, and the channel deleted right then
    ran = once_before(
        monkeypatch, env.deps.campaigns, "create", lambda: api.call("DELETE", f"/v1/channels/{channel['id']}")
    )
    # WHEN the create goes on
    status, answer = api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], channel["id"]))
    # THEN it is refused as a missing channel, and nothing of it is left
    assert ran == [True]
    assert status in (409, 422) and answer["error"]["code"] == "channel_not_found", answer
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []
    assert (env.deps.campaigns.lock_of(tenant[0]) or {})["campaign_count"] == 0
    assert "CAMPAIGN#" not in table_text(env)
    assert api.call("GET", f"/v1/channels/{channel['id']}")[0] == 404


# ------------------------------------------------------------------------------------ credentials refused when saved
# Credentials Twilio could never accept: an Account SID that is not "AC" + 32 hex digits, an auth token an HTTP header
# cannot carry (outside printable ASCII 0x21-0x7E, or empty, or over 256 characters).
NEVER_WORKING = [
    ("account_sid", "SK" + "0" * 31 + "1"),  # an API key SID, not an account
    ("account_sid", "ac" + "0" * 31 + "1"),  # the prefix is upper case
    ("account_sid", "AC" + "0" * 31),  # 31 hex digits
    ("account_sid", "AC" + "0" * 33),  # 33
    ("account_sid", "AC" + "g" * 32),  # not hex
    ("account_sid", "AC" + "٠" * 32),  # Arabic-Indic zeros: digits, but not hex
    ("account_sid", SIM_ACCOUNT + " "),
    ("account_sid", ""),
    ("auth_token", "tökén"),
    ("auth_token", "sim-auth token"),
    ("auth_token", SIM_TOKEN + "\n"),
    ("auth_token", "sim\r\nX-Injected: 1"),
    ("auth_token", "sim\x00token"),
    ("auth_token", "sim\ttoken"),
    ("auth_token", "sim\x7ftoken"),
    ("auth_token", "x" * 257),
    ("auth_token", ""),
]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}={case[1][:40]!r}"


def secret_names() -> list[str]:
    """Every secret in Secrets Manager."""
    return [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]


def assert_refused(status: int, body: Any, fields: list[str], values: list[str]) -> None:
    """A 422 invalid_credentials in the contract's shape naming exactly `fields`, echoing none of `values`."""
    assert status == 422, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "invalid_credentials" and body["error"]["message"]
    assert [d["field"] for d in body["error"]["details"]] == [f"credentials.{f}" for f in fields]
    text = json.dumps(body, ensure_ascii=False)
    for value in values:
        assert len(value) < 4 or value not in text, value


@pytest.mark.parametrize("case", NEVER_WORKING, ids=_ids)
def test_credentials_that_can_never_work_are_refused_on_create_and_nothing_is_saved(
    env: Env, api: Api, case: tuple[str, str]
) -> None:
    # GIVEN Twilio credentials with one field Twilio could never accept
    field, value = case
    credentials = {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN, field: value}
    # WHEN a channel is created with them
    status, body = api.call("POST", "/v1/channels", channel_body(credentials=credentials))
    # THEN 422 invalid_credentials names that field, without its value
    assert_refused(status, body, [field], [value])
    # AND no channel was created and no secret was written
    assert api.call("GET", "/v1/channels")[1]["items"] == []
    assert secret_names() == []
    assert "CHANNEL" not in table_text(env)


def test_both_credential_fields_wrong_are_both_named_and_wrong_types_stay_400(env: Env, api: Api) -> None:
    # GIVEN credentials wrong in both fields WHEN a channel is created with them
    bad = {"account_sid": "AC123", "auth_token": "tökén"}
    status, body = api.call("POST", "/v1/channels", channel_body(credentials=bad))
    # THEN both fields are named, in order
    assert_refused(status, body, ["account_sid", "auth_token"], list(bad.values()))
    # AND a credential of the wrong JSON type is still a malformed request (400), not a 422
    for wrong in ({"account_sid": 1, "auth_token": SIM_TOKEN}, {"account_sid": SIM_ACCOUNT, "auth_token": None}):
        status, body = api.call("POST", "/v1/channels", channel_body(credentials=wrong))
        assert status == 400 and body["error"]["code"] == "invalid_request", body
    assert api.call("GET", "/v1/channels")[1]["items"] == [] and secret_names() == []


def test_credentials_of_the_right_shape_are_accepted_whatever_the_hex_case(env: Env, api: Api) -> None:
    # GIVEN an Account SID in upper-case hex (Twilio's documented pattern is ^AC[0-9a-fA-F]{32}$) and a token of
    # every printable ASCII character but the space
    creds = {"account_sid": "AC" + "0123456789ABCDEF" * 2, "auth_token": "".join(map(chr, range(0x21, 0x7F)))}
    # WHEN a channel is created with them, THEN it is, and the secret holds them as given
    status, created = api.call("POST", "/v1/channels", channel_body(credentials=creds))
    assert status == 201, created
    tenant_id = str(env.deps.channels.tenant_of(created["id"]))
    assert secret_of(env, tenant_id, created["id"]) == creds


@pytest.mark.parametrize("case", NEVER_WORKING, ids=_ids)
def test_credentials_that_can_never_work_are_refused_on_patch_and_nothing_changes(
    env: Env, api: Api, channel: dict[str, Any], case: tuple[str, str]
) -> None:
    # GIVEN a working channel and what the PBX and the secret store see of it
    cid = channel["id"]
    tenant_id = str(env.deps.channels.tenant_of(cid))
    before = api.call("GET", f"/v1/channels/{cid}")[1]
    # WHEN it is patched with a new name and credentials with one field Twilio could never accept
    field, value = case
    credentials = {"account_sid": SIM_ACCOUNT, "auth_token": NEW_TOKEN, field: value}
    status, body = api.call("PATCH", f"/v1/channels/{cid}", {"name": "Renamed", "credentials": credentials})
    # THEN 422 invalid_credentials names that field
    assert_refused(status, body, [field], [value])
    # AND the channel is unchanged (not even its name) and Secrets Manager still has the old credentials
    assert api.call("GET", f"/v1/channels/{cid}")[1] == before
    assert secret_of(env, tenant_id, cid) == {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN}


def test_a_campaign_still_sends_after_a_refused_credentials_patch(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a channel whose credentials PATCH was refused (a token with a newline)
    cid = channel["id"]
    bad = {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN + "\n"}
    assert api.call("PATCH", f"/v1/channels/{cid}", {"credentials": bad})[0] == 422
    # WHEN a campaign is sent on it
    status, created = api.call("POST", "/v1/campaigns", campaign_body(["+14155550100"], cid))
    assert status == 201, created
    pump.drain()
    # THEN it goes out with the credentials the channel had: the simulator accepted the message
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 1, done
    assert [m["to"] for m in env.sim.messages()] == ["+14155550100"]


def test_credentials_the_provider_rejects_at_send_time_stop_the_campaign(env: Env, api: Api, pump: Any) -> None:
    # GIVEN a channel whose credentials are well shaped but not the account's (the simulator answers 401 / 20003)
    wrong = {"account_sid": SIM_ACCOUNT, "auth_token": "0" * 32}
    status, ch = api.call("POST", "/v1/channels", channel_body(credentials=wrong, senders=[SENDER], mps=1000))
    assert status == 201, ch
    numbers = ["+14155550100", "+14155550101", "+14155550102"]
    # WHEN a campaign of three is sent on it
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers, ch["id"]))
    assert status == 201, created
    pump.drain()
    # THEN the campaign is stopped, saying why, and no recipient is counted failed: it is the account, not them
    status, stopped = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert stopped["status"] == "stopped", stopped
    assert stopped["stop_reason"]["code"] == "provider_20003", stopped
    assert stopped["result"]["failed"] == 0 and stopped["result"]["sent"] == 0
    assert env.sim.messages() == [] and env.sim.stats()["unauthorized"] >= 1
    page = api.call("GET", f"/v1/campaigns/{created['id']}/recipients")[1]
    assert [r["status"] for r in page["items"]] == ["queued"] * 3
    # AND once the credentials are put right, a retry sends to every recipient
    right = {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN}
    assert api.call("PATCH", f"/v1/channels/{ch['id']}", {"credentials": right})[0] == 200
    status, retried = api.call("POST", f"/v1/campaigns/{created['id']}/retry")
    assert status == 200, retried
    pump.drain()
    done = api.call("GET", f"/v1/campaigns/{created['id']}")[1]
    assert done["status"] == "completed" and done["result"]["sent"] == 3, done
    assert sorted(m["to"] for m in env.sim.messages()) == numbers


def test_stored_credentials_no_header_can_carry_stop_the_campaign_instead_of_failing_each_recipient(
    env: Env, api: Api, tenant: tuple[str, str], pump: Any
) -> None:
    # GIVEN a channel whose stored auth token cannot go into an Authorization header (saved before the shape check)
    status, ch = api.call("POST", "/v1/channels", channel_body(senders=[SENDER], mps=1000))
    assert status == 201, ch
    env.deps.secrets.put(tenant[0], ch["id"], {"account_sid": SIM_ACCOUNT, "auth_token": "tök€n"})
    numbers = ["+14155550110", "+14155550111"]
    # WHEN a campaign is sent on it
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers, ch["id"]))
    assert status == 201, created
    pump.drain()
    # THEN it is stopped for the account's credentials; no recipient failed, nothing reached the provider
    stopped = api.call("GET", f"/v1/campaigns/{created['id']}")[1]
    assert stopped["status"] == "stopped", stopped
    assert stopped["stop_reason"]["code"] == "provider_invalid_credentials", stopped
    assert stopped["result"]["failed"] == 0 and stopped["result"]["pending"] == 2
    assert env.sim.messages() == []
