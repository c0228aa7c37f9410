"""services/channels.py on the fakes: checks, credentials kept apart, the delete that loses to a new campaign."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.channels import CreateChannel, PatchChannel
from chalicelib.domain.errors import ConflictError, NotFoundError, UnprocessableError
from chalicelib.services import channels
from tests.conftest import once_before
from tests.fakes.deps import PUBLIC_BASE, FakeWorld, fake_world

CREDS = {"account_sid": "AC" + "0123456789abcdef" * 2, "auth_token": "tok"}
SMS = CreateChannel(
    name="Promotions", type="sms", provider="twilio", senders=("+15005550006",), credentials=CREDS, mps=None
)


def created(world: FakeWorld, command: CreateChannel = SMS) -> dict[str, Any]:
    """A channel created for tenant tn_a."""
    return channels.create_channel(world.deps, "tn_a", command)


def test_a_channel_is_answered_with_its_webhooks_and_never_its_credentials() -> None:
    # GIVEN a Twilio SMS channel without mps WHEN created
    world = fake_world()
    answer = created(world)
    cid = answer["id"]
    # THEN the answer has Twilio's default mps, the webhook URLs, no credentials; the secret store has them
    assert answer == {
        "id": cid,
        "name": "Promotions",
        "type": "sms",
        "provider": "twilio",
        "senders": ["+15005550006"],
        "mps": 1.0,
        # Session settings (issue 11): none given, so no default target and the contract's 24 hours.
        "default_routing_target": None,
        "session_expire_hours": 24,
        "webhooks": {
            "status_callback_url": f"{PUBLIC_BASE}/webhooks/twilio/{cid}/status",
            "inbound_url": f"{PUBLIC_BASE}/webhooks/twilio/{cid}/inbound",
        },
        "created_at": answer["created_at"],
        "updated_at": answer["created_at"],
    }
    assert world.secrets.get("tn_a", cid) == CREDS and "auth_token" not in repr(world.channels.channels)
    assert world.channels.tenant_of(cid) == "tn_a"
    assert channels.view(world.deps, channels.get_channel(world.deps, "tn_a", cid)) == answer


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"senders": ("+1500555",)}, "invalid_phone_number"),
        ({"mps": 0.001}, "invalid_mps"),
        ({"mps": 1001.0}, "invalid_mps"),
        ({"mps": 10**4000}, "invalid_mps"),  # an int no float can hold: refused, never converted first
        ({"credentials": {"account_sid": "XX", "auth_token": "t"}}, "invalid_credentials"),
        ({"type": "rcs"}, "unsupported_channel"),  # twilio with type whatsapp is supported now
        ({"provider": "whatsapp_cloud"}, "unsupported_channel"),
    ],
)
def test_a_channel_that_could_never_send_is_refused_and_nothing_is_kept(change: dict[str, Any], code: str) -> None:
    # GIVEN a channel with one bad setting WHEN created THEN 422 with its code, and neither channel nor secret kept
    world = fake_world()
    with pytest.raises(UnprocessableError) as refused:
        created(world, replace(SMS, **change))
    assert refused.value.code == code
    assert world.channels.channels == {} and world.secrets.secrets == {}


def test_credentials_are_never_echoed_in_the_refusal() -> None:
    # GIVEN credentials no header can carry WHEN refused THEN the message names the field, never the value
    world = fake_world()
    with pytest.raises(UnprocessableError) as refused:
        created(world, replace(SMS, credentials={**CREDS, "auth_token": "bad\ntoken-value"}))
    assert "token-value" not in refused.value.message and refused.value.details[0]["field"] == "credentials.auth_token"


def test_a_channel_whose_store_write_fails_leaves_no_secret() -> None:
    # GIVEN a channel id that is taken WHEN a channel is created with it THEN it fails and its new secret is removed
    world = fake_world()
    first = created(world)
    with pytest.raises(Exception):  # noqa: B017 - whatever the table says, the secret must go
        channels.create_channel(world.deps, "tn_b", SMS, channel_id=first["id"])
    assert world.secrets.get("tn_b", first["id"]) is None and world.secrets.get("tn_a", first["id"]) == CREDS


def test_an_update_checks_everything_before_it_writes() -> None:
    # GIVEN a channel WHEN a change has a bad sender and new credentials THEN 422 and neither is written
    world = fake_world()
    cid = created(world)["id"]
    with pytest.raises(UnprocessableError):
        channels.update_channel(
            world.deps, "tn_a", cid, PatchChannel(senders=("nope",), credentials={**CREDS, "auth_token": "new"})
        )
    assert world.secrets.get("tn_a", cid) == CREDS
    # WHEN a good change comes THEN the answer shows it, with its time, and the credentials are replaced
    world.deps.clock.offset += 60
    answer = channels.update_channel(
        world.deps, "tn_a", cid, PatchChannel(name="Renamed", mps=5, credentials={**CREDS, "auth_token": "new"})
    )
    assert (answer["name"], answer["mps"], answer["senders"]) == ("Renamed", 5, ["+15005550006"])
    assert answer["updated_at"] > answer["created_at"]
    assert world.secrets.get("tn_a", cid) == {**CREDS, "auth_token": "new"}


def test_an_mps_no_float_can_hold_is_refused_on_update_too() -> None:
    # GIVEN a channel WHEN its mps is changed to a 4000-digit int THEN 422 invalid_mps, the channel unchanged
    world = fake_world()
    cid = created(world)["id"]
    with pytest.raises(UnprocessableError) as refused:
        channels.update_channel(world.deps, "tn_a", cid, PatchChannel(mps=10**4000))
    assert refused.value.code == "invalid_mps" and world.channels.get("tn_a", cid).mps == 1  # type: ignore[union-attr]


def test_another_tenants_channel_is_not_found() -> None:
    # GIVEN tenant a's channel THEN tenant b can neither read, change nor delete it
    world = fake_world()
    cid = created(world)["id"]
    with pytest.raises(NotFoundError):
        channels.get_channel(world.deps, "tn_b", cid)
    with pytest.raises(NotFoundError):
        channels.update_channel(world.deps, "tn_b", cid, PatchChannel(name="x"))
    with pytest.raises(NotFoundError):
        channels.delete_channel(world.deps, "tn_b", cid)


def test_listing_pages_through_the_tenants_channels() -> None:
    # GIVEN three channels WHEN listed two per page THEN every channel once, oldest first
    world = fake_world()
    ids = []
    for _ in range(3):
        ids.append(created(world)["id"])
        world.deps.clock.offset += 1
    first = channels.list_channels(world.deps, "tn_a", 2, None)
    second = channels.list_channels(world.deps, "tn_a", 2, first["next_cursor"])
    assert [c["id"] for c in first["items"] + second["items"]] == ids and second["next_cursor"] is None


def test_a_channel_used_by_an_unfinished_campaign_is_not_deleted() -> None:
    # GIVEN a channel used by a draft and by a completed campaign
    world = fake_world()
    cid = created(world)["id"]
    world.campaigns.campaigns += [
        {"tenant_id": "tn_a", "campaign_id": "cmp_1", "channel_id": cid, "status": "draft"},
        {"tenant_id": "tn_a", "campaign_id": "cmp_2", "channel_id": cid, "status": "completed"},
    ]
    # WHEN it is deleted THEN 409 channel_in_use naming the draft only, and it stays
    with pytest.raises(ConflictError) as refused:
        channels.delete_channel(world.deps, "tn_a", cid)
    assert refused.value.code == "channel_in_use" and refused.value.details == [{"campaign_id": "cmp_1"}]
    assert world.channels.get("tn_a", cid) is not None
    # WHEN the draft is finished THEN the delete goes through, credentials too
    world.campaigns.campaigns[0]["status"] = "stopped"
    channels.delete_channel(world.deps, "tn_a", cid)
    assert world.channels.get("tn_a", cid) is None and world.secrets.get("tn_a", cid) is None


def test_a_delete_that_loses_to_a_new_campaign_looks_again_and_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a delete that has found no campaign, and a campaign created on the channel right before it writes
    world = fake_world()
    cid = created(world)["id"]

    def campaign_created() -> None:
        world.campaigns.campaigns.append({"tenant_id": "tn_a", "campaign_id": "cmp_9", "channel_id": cid})
        world.channels.use("tn_a", cid)

    ran = once_before(monkeypatch, world.channels, "delete", campaign_created)
    # WHEN the delete writes THEN it loses (use_seq moved), looks at the campaigns again and refuses
    with pytest.raises(ConflictError) as refused:
        channels.delete_channel(world.deps, "tn_a", cid)
    assert ran == [True] and refused.value.code == "channel_in_use"
    assert world.channels.get("tn_a", cid) is not None and world.secrets.get("tn_a", cid) == CREDS
