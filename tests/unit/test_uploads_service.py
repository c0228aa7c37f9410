"""services/uploads.py on the fakes: announce, the S3 event, the import once, media pinned, expiry (no moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.errors import NotFoundError, PayloadTooLargeError, UnprocessableError
from chalicelib.domain.objects import media_key, processed_key, upload_key
from chalicelib.domain.uploads import CreateUpload
from chalicelib.services import uploads
from tests.fakes.deps import FakeWorld, fake_world

CSV = b"Number,first_name\n+41791234567,Ann\n+41797654321,\n+41791234567,Dup\n"


def s3_event(key: str) -> str:
    """S3's notification of a new object, as the upload queue delivers it."""
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key}}}]})


def announced(world: FakeWorld, kind: str = "contacts_csv", size: int = len(CSV), ctype: str = "text/csv") -> Any:
    """An announced upload of tenant tn_a."""
    return uploads.create_upload(world.deps, "tn_a", CreateUpload(kind, "contacts.csv", ctype, size))


def test_an_announced_upload_waits_for_its_file_at_a_presigned_url() -> None:
    # GIVEN a CSV announced THEN the answer has a PUT URL for its key, and it is processing, awaiting the file
    world = fake_world()
    got = announced(world)
    assert got["upload_method"] == "PUT" and upload_key("tn_a", got["id"]) in got["upload_url"]
    assert got["upload_headers"] == {"Content-Type": "text/csv"}
    assert (got["status"], got["stage"], got["rows"], got["columns"]) == ("processing", "awaiting_file", 0, [])
    assert uploads.get_upload(world.deps, "tn_a", got["id"])["stage"] == "awaiting_file"


def test_the_s3_event_imports_the_csv_once() -> None:
    # GIVEN an announced CSV whose file arrived WHEN S3's event is handled THEN it is ready with its report
    world = fake_world()
    uid = announced(world)["id"]
    world.blobs.put_bytes(upload_key("tn_a", uid), CSV, "text/csv")
    uploads.handle_s3_notification(world.deps, s3_event(upload_key("tn_a", uid)))
    got = uploads.get_upload(world.deps, "tn_a", uid)
    assert (got["status"], got["stage"], got["rows"], got["valid"], got["duplicates"]) == ("ready", "done", 3, 3, 1)
    assert got["columns"] == ["Number", "first_name"] and got["processed_at"]
    # AND its contacts are the distinct valid numbers with their non-empty variables
    assert list(uploads.contacts(world.deps, "tn_a", uid)) == [
        ("+41791234567", {"first_name": "Ann"}),
        ("+41797654321", {}),
    ]
    # WHEN the event is delivered again THEN nothing changes (the import is done)
    world.blobs.delete(processed_key("tn_a", uid))
    uploads.handle_s3_notification(world.deps, s3_event(upload_key("tn_a", uid)))
    assert uploads.get_upload(world.deps, "tn_a", uid) == got and world.blobs.head(processed_key("tn_a", uid)) is None


def test_events_that_are_not_ours_are_ignored() -> None:
    # GIVEN S3's test event, garbage, and an object with no upload WHEN handled THEN nothing happens
    world = fake_world()
    for body in ('{"Event": "s3:TestEvent"}', "not json", s3_event("uploads/tn_a/upl_none"), s3_event("other/key")):
        uploads.handle_s3_notification(world.deps, body)
    assert world.uploads.uploads == {}


def test_a_csv_with_an_invalid_number_is_rejected_with_its_rows() -> None:
    # GIVEN an inline CSV with a number that is not E.164 WHEN sent THEN rejected, naming the row
    world = fake_world()
    got = uploads.create_inline_csv(world.deps, "tn_a", {"filename": "c.csv"}, b"Number\n+41791234567\n0791234567\n")
    assert (got["status"], got["invalid"], got["error"]["code"]) == ("rejected", 1, "invalid_phone_number")
    assert got["errors"][0]["row"] == 3
    assert world.blobs.head(processed_key("tn_a", got["id"])) is None


def test_an_inline_csv_is_imported_in_the_request() -> None:
    # GIVEN a small CSV as the body WHEN sent THEN the answer is the imported upload
    world = fake_world()
    got = uploads.create_inline_csv(world.deps, "tn_a", {"filename": "c.csv"}, CSV)
    assert (got["status"], got["stage"], got["valid"], got["size"]) == ("ready", "done", 3, len(CSV))
    assert uploads.get_upload(world.deps, "tn_a", got["id"]) == got


def test_limits_and_names_are_checked_before_anything_is_kept() -> None:
    # GIVEN a CSV over 50 MB, a bad filename, a content type that is no CSV's THEN each is refused, nothing kept
    world = fake_world()
    with pytest.raises(PayloadTooLargeError):
        announced(world, size=50 * 1024 * 1024 + 1)
    with pytest.raises(UnprocessableError):
        uploads.create_upload(world.deps, "tn_a", CreateUpload("contacts_csv", "a/b.csv", "text/csv", 10))
    with pytest.raises(UnprocessableError):
        announced(world, ctype="image/png")
    assert world.uploads.uploads == {}


def test_media_is_pinned_to_a_copy_no_url_names() -> None:
    # GIVEN announced media whose file arrived WHEN processed THEN ready, described by its copy
    world = fake_world()
    uid = announced(world, kind="media", size=4, ctype="image/png")["id"]
    world.blobs.put_bytes(upload_key("tn_a", uid), b"\x89PNG", "image/png")
    uploads.process_upload(world.deps, "tn_a", uid)
    etag = world.blobs.head(upload_key("tn_a", uid))["etag"]  # type: ignore[index]
    ready = uploads.ready_upload(world.deps, "tn_a", uid, uploads.MEDIA, "content.upload_id")
    assert (ready.media_key, ready.size, ready.content_type) == (media_key("tn_a", uid, etag), 4, "image/png")
    assert world.blobs.get_bytes(media_key("tn_a", uid, etag)) == b"\x89PNG"


def test_an_upload_whose_url_expired_without_a_file_is_rejected() -> None:
    # GIVEN an announced upload WHEN its URL's hour and a minute's grace pass with no file THEN rejected
    world = fake_world()
    uid = announced(world)["id"]
    world.deps.clock.offset += 3600 + 30
    assert uploads.get_upload(world.deps, "tn_a", uid)["status"] == "processing"
    world.deps.clock.offset += 60
    got = uploads.get_upload(world.deps, "tn_a", uid)
    assert (got["status"], got["stage"], got["error"]["code"]) == ("rejected", "done", "upload_expired")
    # AND a file arriving after that is not imported
    world.blobs.put_bytes(upload_key("tn_a", uid), CSV, "text/csv")
    uploads.process_upload(world.deps, "tn_a", uid)
    assert uploads.get_upload(world.deps, "tn_a", uid) == got


def test_a_late_file_keeps_an_expired_upload_waiting_for_its_event() -> None:
    # GIVEN an upload past its URL's time whose file did arrive THEN it is not rejected (the event is on its way)
    world = fake_world()
    uid = announced(world)["id"]
    world.blobs.put_bytes(upload_key("tn_a", uid), CSV, "text/csv")
    world.deps.clock.offset += 7200
    assert uploads.get_upload(world.deps, "tn_a", uid)["stage"] == "awaiting_file"


def test_a_campaign_may_use_only_a_ready_upload_of_its_kind() -> None:
    # GIVEN an unknown, a waiting, a media and a rejected upload THEN each is refused for a CSV audience, by code
    world = fake_world()
    waiting = announced(world)["id"]
    media = announced(world, kind="media", size=4, ctype="image/png")["id"]
    rejected = uploads.create_inline_csv(world.deps, "tn_a", {"filename": "c.csv"}, b"Number\n07\n")["id"]
    codes = []
    for uid in ("upl_none", waiting, media, rejected, "x" * 200):
        with pytest.raises(UnprocessableError) as refused:
            uploads.ready_upload(world.deps, "tn_a", uid, uploads.CSV, "recipients.upload_id")
        codes.append(refused.value.code)
    assert codes == ["upload_not_found", "upload_not_ready", "upload_wrong_kind", "upload_rejected", "upload_not_found"]
    # AND another tenant's upload is not found
    with pytest.raises(NotFoundError):
        uploads.get_upload(world.deps, "tn_b", waiting)
