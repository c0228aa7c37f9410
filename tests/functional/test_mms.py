"""MMS through the API on moto: a media upload put to S3, a file campaign, and the media URL Twilio (the simulator)
fetches; the checks against what Twilio accepts happen when the campaign is created, not when it is sent."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.conftest import SENDER, Api, Env, campaign_body
from tests.functional.test_uploads import MB, announce, inline_csv, put_file, uploaded

NUMBERS = ["+14155550100", "+14155550101"]


def png(width: int = 2, height: int = 2, rgb: bytes = b"\xff\x00\x00") -> bytes:
    """A small valid PNG (RGB, all one colour: red unless told)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def file_campaign(channel: dict[str, Any], upload_id: str, text: str | None = "hi", **kw: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"type": "file", "upload_id": upload_id}
    if text is not None:
        content["text"] = text
    return campaign_body(NUMBERS, channel["id"], content=content, **kw)


def test_mms_campaign_hands_twilio_a_presigned_url_that_serves_the_file(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a PNG put through a presigned URL and checked by the upload worker
    image = png()
    media = uploaded(api, pump, "media", image, "image/png", "logo.png")
    assert media["status"] == "ready" and media["size"] == len(image) and media["content_type"] == "image/png"
    assert "rows" not in media  # contact counts belong to CSVs only
    # WHEN an MMS campaign with a text goes out
    status, created = api.call("POST", "/v1/campaigns", file_campaign(channel, media["id"]))
    assert status == 201, created
    assert created["content"] == {"type": "file", "upload_id": media["id"], "text": "hi"}
    assert created["segments"] == 1 and created["status"] == "executing"
    pump.drain()
    assert pump.errors == []
    # THEN it completes, one MMS per number
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 2 and done["result"]["failed"] == 0, done
    assert env.sim.wait_for_callbacks(10)
    messages = [m for m in env.sim.messages() if m["from"] == SENDER]
    assert sorted(m["to"] for m in messages) == NUMBERS
    for message in messages:
        # AND each carries the text and one MediaUrl: a SigV4 presigned GET of the copy made when the upload was
        # processed (under media/, named after the file's ETag: no presigned PUT names it)
        assert message["body"] == "hi"
        (url,) = message["media_urls"]
        parts = urlsplit(url)
        etag = hashlib.md5(image).hexdigest()  # noqa: S324 - S3's ETag of a single-part object
        assert parts.path == f"/{env.resources.upload_bucket}/media/{tenant[0]}/{media['id']}/{etag}"
        assert parse_qs(parts.query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        # AND Twilio (the simulator) fetched it: an image it accepts, of the file's size; the message was not failed
        (fetched,) = message["media"]
        assert fetched["status"] == "fetched" and fetched["http_status"] == 200, fetched
        assert fetched["bytes"] == len(image) and fetched["content_type"] == "image/png"
        assert message["status"] == "delivered" and message["error_code"] is None, message
        # AND the URL serves exactly the bytes that were uploaded
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content == image


def test_media_over_twilios_5_mb_is_refused_when_the_campaign_is_created(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a 6 MB image: within the 100 MB an upload may have, so it is ready
    media = uploaded(api, pump, "media", b"\x89PNG" + b"\x00" * (6 * MB - 4), "image/png", "big.png")
    assert media["status"] == "ready" and media["size"] == 6 * MB
    # WHEN an MMS campaign on a Twilio channel uses it
    status, got = api.call("POST", "/v1/campaigns", file_campaign(channel, media["id"]))
    # THEN 422 media_too_large, saying Twilio's limit is 5 MB, and nothing is stored or sent
    assert status == 422, got
    assert got["error"]["code"] == "media_too_large"
    assert "Twilio" in got["error"]["message"] and "5 MB" in got["error"]["message"]
    assert got["error"]["details"][0]["max"] == 5 * MB
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []
    # AND a draft is refused the same way (the check is not left to send time)
    status, got = api.call("POST", "/v1/campaigns", file_campaign(channel, media["id"], send_time={"type": "draft"}))
    assert status == 422 and got["error"]["code"] == "media_too_large"
    pump.drain()
    assert env.sim.messages() == []


def test_media_twilio_does_not_take_and_bad_mms_content_are_422(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a ready ZIP and a ready PNG (put and processed together), one announced file, and a contact CSV
    zipped = announce(api, "media", 22, "application/zip", "files.zip")
    image = png()
    picture = announce(api, "media", len(image), "image/png", "p.png")
    waiting = announce(api, "media", 10, "image/png", "later.png")
    for upload, data in ((zipped, b"PK\x05\x06" + b"\x00" * 18), (picture, image)):
        response = requests.put(upload["upload_url"], data=data, headers=upload["upload_headers"], timeout=10)
        assert response.status_code == 200
    pump.drain(timeout=30)
    _, contacts = inline_csv(api, b"Number\n+14155550100\n")
    cases = [
        # a type Twilio does not accept in an MMS
        (file_campaign(channel, zipped["id"]), "media_type_not_supported"),
        # an MMS's text over 1,600 characters
        (file_campaign(channel, picture["id"], text="a" * 1601), "content_too_long"),
        # media whose file has not arrived yet
        (file_campaign(channel, waiting["id"]), "upload_not_ready"),
        # a contact CSV as media
        (file_campaign(channel, contacts["id"]), "upload_wrong_kind"),
        (file_campaign(channel, "upl_doesnotexist"), "upload_not_found"),
    ]
    for body, code in cases:
        # WHEN the campaign is created, THEN 422 with the code that says why
        status, got = api.call("POST", "/v1/campaigns", body)
        assert status == 422 and got["error"]["code"] == code, (code, got)
    # AND the same PNG with 1,600 characters of text, or no text at all, is accepted
    for text in ("a" * 1600, None):
        status, got = api.call(
            "POST", "/v1/campaigns", file_campaign(channel, picture["id"], text, send_time={"type": "draft"})
        )
        assert status == 201, got
    assert got["content"] == {"type": "file", "upload_id": picture["id"]}
    assert env.sim.messages() == []


def send_draft(env: Env, api: Api, pump: Any, campaign_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send a draft now and let it finish: the campaign, and the messages Twilio (the simulator) took for it, each
    with the media it fetched."""
    seen = len(env.sim.messages())
    status, sending = api.call("POST", f"/v1/campaigns/{campaign_id}/send", {"send_time": {"type": "now"}})
    assert status == 200, sending
    pump.drain()
    assert pump.errors == []
    status, done = api.call("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200, done
    assert env.sim.wait_for_callbacks(10)  # the media is fetched before the first status
    messages = env.sim.messages()[seen:]
    assert sorted(m["to"] for m in messages) == NUMBERS, messages
    return done, messages


def test_a_put_to_the_old_upload_url_after_processing_changes_nothing_that_is_sent(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a PNG put through its presigned URL and processed, and a draft MMS campaign checked against it
    image = png()
    upload = announce(api, "media", len(image), "image/png", "logo.png")
    put_file(upload, image)
    pump.drain(timeout=30)
    status, draft = api.call("POST", "/v1/campaigns", file_campaign(channel, upload["id"], send_time={"type": "draft"}))
    assert status == 201, draft
    # WHEN the same URL is used again, within its hour, with other bytes of the same size and type (all a real S3
    # presigned PUT lets through: its Content-Length and Content-Type are signed), and S3's event for it arrives
    swapped = png(rgb=b"\xff\x00\xff")  # magenta
    assert len(swapped) == len(image) and swapped != image
    put_file(upload, swapped)
    pump.drain(timeout=30)
    assert pump.errors == []
    # THEN the upload still reports what was checked
    status, got = api.call("GET", f"/v1/uploads/{upload['id']}")
    assert got["status"] == "ready" and got["size"] == len(image) and got["content_type"] == "image/png", got
    # AND the campaign, sent now, hands Twilio a URL that serves the original bytes, not the new ones
    done, messages = send_draft(env, api, pump, draft["id"])
    assert done["status"] == "completed" and done["result"]["sent"] == 2, done
    assert done["content"] == {"type": "file", "upload_id": upload["id"], "text": "hi"}  # nothing internal shown
    for message in messages:
        (fetched,) = message["media"]
        assert fetched["status"] == "fetched" and fetched["bytes"] == len(image), fetched
        (url,) = message["media_urls"]
        assert requests.get(url, timeout=10).content == image
    # AND a campaign created after the re-PUT, and a duplicate of the first, send the original too
    status, later = api.call("POST", "/v1/campaigns", file_campaign(channel, upload["id"], send_time={"type": "draft"}))
    assert status == 201, later
    status, copy = api.call("POST", f"/v1/campaigns/{draft['id']}/duplicate")
    assert status == 201 and copy["content"] == done["content"], copy
    for campaign_id in (later["id"], copy["id"]):
        _, messages = send_draft(env, api, pump, campaign_id)
        for message in messages:
            (url,) = message["media_urls"]
            assert requests.get(url, timeout=10).content == image


def test_a_campaign_stored_before_media_was_pinned_sends_its_uploads_own_file(
    env: Env, api: Api, tenant: tuple[str, str], channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a draft MMS stored as it was before processed media was copied: its content names only the upload
    image = png()
    media = uploaded(api, pump, "media", image, "image/png", "logo.png")
    status, draft = api.call("POST", "/v1/campaigns", file_campaign(channel, media["id"], send_time={"type": "draft"}))
    assert status == 201, draft
    old_content = {"type": "file", "upload_id": media["id"], "text": "hi"}
    assert env.deps.campaigns.set_fields(tenant[0], draft["id"], {"content": old_content})
    # WHEN it is sent
    done, messages = send_draft(env, api, pump, draft["id"])
    # THEN Twilio is handed the upload's own object, as before, and fetches it
    assert done["status"] == "completed" and done["result"]["sent"] == 2, done
    for message in messages:
        (url,) = message["media_urls"]
        assert urlsplit(url).path == f"/{env.resources.upload_bucket}/uploads/{tenant[0]}/{media['id']}"
        (fetched,) = message["media"]
        assert fetched["status"] == "fetched" and fetched["bytes"] == len(image), fetched


def test_an_oversize_or_wrong_type_re_put_after_processing_changes_neither_the_upload_nor_the_mms(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a processed PNG
    image = png()
    upload = announce(api, "media", len(image), "image/png", "logo.png")
    put_file(upload, image)
    pump.drain(timeout=30)
    status, before = api.call("GET", f"/v1/uploads/{upload['id']}")
    assert before["status"] == "ready", before
    for data, content_type in (
        (b"\x89PNG" + b"\x00" * (6 * MB), "image/png"),
        (b"PK\x05\x06" + b"\x00" * 18, "application/zip"),
    ):
        # WHEN its old URL takes a file Twilio would refuse (over 5 MB, or a ZIP), and S3's event for it arrives
        response = requests.put(upload["upload_url"], data=data, headers={"Content-Type": content_type}, timeout=30)
        # (a real S3 refuses this PUT, its Content-Length and Content-Type being signed; moto takes it: the worst case)
        assert response.status_code == 200, response.text
        pump.drain(timeout=30)
        assert pump.errors == []
        # THEN the upload is unchanged: still ready, with the size and type that were checked
        status, got = api.call("GET", f"/v1/uploads/{upload['id']}")
        assert got == before, (content_type, got)
        # AND an MMS created with it now is accepted, and Twilio fetches the original PNG
        status, draft = api.call(
            "POST", "/v1/campaigns", file_campaign(channel, upload["id"], send_time={"type": "draft"})
        )
        assert status == 201, draft
        done, messages = send_draft(env, api, pump, draft["id"])
        assert done["status"] == "completed" and done["result"]["sent"] == 2 and done["result"]["failed"] == 0, done
        for message in messages:
            (fetched,) = message["media"]
            assert fetched["status"] == "fetched", fetched
            assert fetched["bytes"] == len(image) and fetched["content_type"] == "image/png", fetched


def test_a_campaign_takes_the_media_types_twilio_sends_and_no_other(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN a ready WebP image (Twilio sends WebP on WhatsApp only) and a ready AAC clip (Twilio accepts it for MMS)
    webp = uploaded(api, pump, "media", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24, "image/webp", "s.webp")
    aac = uploaded(api, pump, "media", b"\xff\xf1\x50\x80" + b"\x00" * 96, "audio/aac", "a.aac")
    assert webp["status"] == aac["status"] == "ready"
    # WHEN an MMS campaign uses the WebP, THEN 422 media_type_not_supported, naming the provider
    status, got = api.call("POST", "/v1/campaigns", file_campaign(channel, webp["id"]))
    assert status == 422 and got["error"]["code"] == "media_type_not_supported", got
    assert got["error"]["details"][0]["provider"] == "twilio" and "Twilio" in got["error"]["message"]
    # WHEN one uses the AAC clip, THEN it is taken, and Twilio (the simulator) fetches the clip and delivers it
    status, draft = api.call("POST", "/v1/campaigns", file_campaign(channel, aac["id"], send_time={"type": "draft"}))
    assert status == 201, draft
    done, messages = send_draft(env, api, pump, draft["id"])
    assert done["status"] == "completed" and done["result"]["sent"] == len(NUMBERS), done
    for message in messages:
        assert message["status"] == "delivered" and message["media"][0]["status"] == "fetched", message
        assert message["media"][0]["content_type"] == "audio/aac"
