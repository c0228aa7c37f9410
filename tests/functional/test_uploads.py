"""Uploads through the API on moto: presigned PUTs to S3, the S3 event, the upload worker, inline CSVs, the limits,
and campaigns whose recipients come from an imported CSV."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import requests

from chalicelib.services import uploads
from chalicelib.services.tenants import create_tenant
from tests.conftest import SANDBOX_CHANNEL, SENDER, Api, Env, campaign_body

MB = 1024 * 1024
CSV_HEADERS = {"Content-Type": "text/csv"}


# ------------------------------------------------------------------------------------------------ helpers
def announce(api: Api, kind: str, size: int, content_type: str, filename: str = "file") -> dict[str, Any]:
    """POST /v1/uploads (JSON): the upload with its presigned URL."""
    status, body = api.call(
        "POST", "/v1/uploads", {"kind": kind, "filename": filename, "content_type": content_type, "size": size}
    )
    assert status == 201, body
    return body


def put_file(upload: dict[str, Any], data: bytes) -> None:
    """PUT the file to the presigned URL, as the PBX would (plain HTTP, the answered method and headers)."""
    response = requests.request(
        upload["upload_method"], upload["upload_url"], data=data, headers=upload["upload_headers"], timeout=30
    )
    assert response.status_code == 200, response.text


def uploaded(api: Api, pump: Any, kind: str, data: bytes, content_type: str, filename: str = "f") -> dict[str, Any]:
    """Announce, PUT, let S3's event reach the upload worker; the upload as GET then answers it."""
    upload = announce(api, kind, len(data), content_type, filename)
    put_file(upload, data)
    pump.drain(timeout=30)
    assert pump.errors == []
    status, got = api.call("GET", f"/v1/uploads/{upload['id']}")
    assert status == 200, got
    return got


def inline_csv(api: Api, data: bytes, filename: str = "contacts.csv", **kwargs: Any) -> tuple[int, Any]:
    """POST /v1/uploads with the CSV as the body."""
    return api.call(
        "POST", f"/v1/uploads?kind=contacts_csv&filename={filename}", raw=data, headers=CSV_HEADERS, **kwargs
    )


def csv_rows(*rows: str, header: str = "Number,first_name") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def recipients(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    """A campaign's recipients by number."""
    status, page = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients?limit=200")
    assert status == 200, page
    return {r["number"]: r for r in page["items"]}


def sent_to(env: Env) -> list[str]:
    return sorted(m["to"] for m in env.sim.messages() if m["from"] == SENDER)


# 4 rows, 3 distinct numbers (the repeat's columns are not kept), and two variable columns.
GOOD_CSV = csv_rows(
    "+14155550100,Ann,Bern",
    "+14155550101,Bob,Basel",
    "+14155550100,Ann again,Genf",
    "+14155550102,Cy,",
    header="Number,first_name,city",
)


# ------------------------------------------------------------------------------------------------ presigned path
def test_announced_csv_is_put_to_s3_and_imported_by_the_upload_worker(
    env: Env, api: Api, tenant: tuple[str, str], pump: Any
) -> None:
    # GIVEN a spreadsheet's export: a BOM, CRLF line ends, a repeated number
    data = b"\xef\xbb\xbfNumber,first_name,city\r\n" + b"+14155550100,Ann,Bern\r\n+14155550101,Bob,\r\n"
    data += b"+14155550100,Ann,Bern\r\n"
    # WHEN the PBX announces a contact CSV
    upload = announce(api, "contacts_csv", len(data), "text/csv", "contacts.csv")
    # THEN it gets a SigV4 presigned PUT for exactly this object in the upload bucket, and the headers to send
    assert upload["upload_method"] == "PUT" and upload["upload_headers"] == {"Content-Type": "text/csv"}
    url = urlsplit(upload["upload_url"])
    query = parse_qs(url.query)
    assert url.path == f"/{env.resources.upload_bucket}/uploads/{tenant[0]}/{upload['id']}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["3600"]
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-type", "content-length", "host"}
    assert upload["status"] == "processing" and upload["stage"] == "awaiting_file" and upload["expires_at"]
    # AND before the file is put, it is processing, awaiting the file
    status, got = api.call("GET", f"/v1/uploads/{upload['id']}")
    assert status == 200 and (got["status"], got["stage"]) == ("processing", "awaiting_file")
    # WHEN the file is put with plain HTTP, THEN it is in the bucket, and still processing until the worker runs
    put_file(upload, data)
    head = boto3.client("s3").head_object(Bucket=env.resources.upload_bucket, Key=f"uploads/{tenant[0]}/{upload['id']}")
    assert head["ContentLength"] == len(data)
    assert api.call("GET", f"/v1/uploads/{upload['id']}")[1]["status"] == "processing"
    # WHEN S3's event reaches the upload worker
    pump.drain(timeout=30)
    assert pump.errors == []
    # THEN it is ready, with the counts (the repeat is a valid duplicate) and the header's columns
    status, got = api.call("GET", f"/v1/uploads/{upload['id']}")
    assert got["status"] == "ready" and got["stage"] == "done" and got["error"] is None, got
    assert (got["rows"], got["valid"], got["invalid"], got["duplicates"]) == (3, 3, 0, 1)
    assert got["columns"] == ["Number", "first_name", "city"] and got["errors"] == []
    assert got["processed_at"]


def test_a_csv_put_through_the_url_with_a_defect_is_rejected_by_the_worker(env: Env, api: Api, pump: Any) -> None:
    # GIVEN a CSV with no Number column, put through the presigned URL
    got = uploaded(api, pump, "contacts_csv", b"Phone,Name\n+14155550100,Ann\n", "text/csv")
    # THEN the worker rejected it, naming the headers it found
    assert got["status"] == "rejected", got
    assert got["error"]["code"] == "missing_number_column"
    assert "Phone" in got["error"]["message"] and "Name" in got["error"]["message"]


def test_a_repeated_s3_event_for_the_same_object_is_a_no_op(
    env: Env, api: Api, tenant: tuple[str, str], pump: Any
) -> None:
    # GIVEN an imported CSV
    first = uploaded(api, pump, "contacts_csv", GOOD_CSV, "text/csv")
    assert first["status"] == "ready" and (first["valid"], first["duplicates"]) == (4, 1)
    tenant_id = tenant[0]
    env.deps.clock.offset += 120  # a re-import would stamp a later processed_at
    # WHEN S3 delivers the same event again (at-least-once), through the queue and the worker
    key = f"uploads/{tenant_id}/{first['id']}"
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": env.resources.upload_bucket}, "object": {"key": key}},
            }
        ]
    }
    boto3.client("sqs").send_message(QueueUrl=env.resources.upload_queue_url, MessageBody=json.dumps(event))
    assert pump.drain(timeout=30) == 1
    # AND the service is called again directly with the same object
    uploads.process_upload(env.deps, tenant_id, first["id"])
    # THEN nothing changed: same counts, same processed_at, still ready
    assert pump.errors == []
    assert api.call("GET", f"/v1/uploads/{first['id']}") == (200, first)


# ------------------------------------------------------------------------------------------------ inline
def test_inline_csv_is_imported_in_the_request(api: Api) -> None:
    # WHEN a small CSV (semicolons, a BOM, a blank line) is posted inline with a charset
    data = "\ufeffName;NUMBER\nÄnn;+41791234567\n\nBob; +41791234568\nBob;+41791234568\n".encode()
    status, got = api.call(
        "POST",
        "/v1/uploads?kind=contacts_csv&filename=team.csv",
        raw=data,
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    # THEN 201 and it is already imported, with the counts and the columns
    assert status == 201, got
    assert got["status"] == "ready" and got["stage"] == "done" and got["filename"] == "team.csv"
    assert (got["rows"], got["valid"], got["invalid"], got["duplicates"]) == (3, 3, 0, 1)
    assert got["columns"] == ["Name", "NUMBER"]
    assert api.call("GET", f"/v1/uploads/{got['id']}") == (200, got)


def test_inline_csv_with_invalid_numbers_is_rejected_listing_the_first_100_offending_rows(api: Api) -> None:
    # GIVEN 3 good numbers and 150 that are not E.164
    bad = [f"0791234{i:03d}" for i in range(150)]
    data = csv_rows("+41791234567,A", *[f"{b},x" for b in bad], "+41791234568,B", "+41791234569,C")
    # WHEN it is posted inline
    status, got = inline_csv(api, data)
    # THEN the whole file is rejected with invalid_phone_number, the counts, and the first 100 errors
    assert status == 201, got
    assert got["status"] == "rejected" and got["error"]["code"] == "invalid_phone_number"
    assert (got["rows"], got["valid"], got["invalid"]) == (153, 3, 150)
    assert len(got["errors"]) == 100
    assert got["errors"][0]["row"] == 3 and got["errors"][0]["value"] == bad[0] and got["errors"][0]["reason"]
    assert [e["value"] for e in got["errors"]] == bad[:100]
    assert [e["row"] for e in got["errors"]] == list(range(3, 103))


def test_inline_csv_defects_are_rejected_with_a_code_each(api: Api) -> None:
    cases = [
        (b"Phone,Name\n+41791234567,Ann\n", "missing_number_column"),
        (b"Number,Name\n+41791234567,\xe4nn\n", "invalid_encoding"),
        (b"", "empty_file"),
        (b"\n\n", "empty_file"),
        (b"Number,Name\n", "no_rows"),
    ]
    for data, code in cases:
        # WHEN the file has the defect
        status, got = inline_csv(api, data)
        # THEN it is stored as rejected with that code (never a 5xx), and GET says the same
        assert status == 201, (data, got)
        assert got["status"] == "rejected" and got["error"]["code"] == code, (data, got)
        assert got["error"]["message"]
        assert api.call("GET", f"/v1/uploads/{got['id']}")[1]["error"]["code"] == code
    status, got = inline_csv(api, cases[0][0])
    assert got["error"]["details"] == [{"columns": ["Phone", "Name"]}]


# ------------------------------------------------------------------------------------------------ limits and checks
def test_size_limits_are_413_and_the_limits_themselves_are_accepted(api: Api) -> None:
    # WHEN an inline CSV is over 5 MB, THEN 413 payload_too_large
    big = b"Number\n" + b"+41791234567\n" * (5 * MB // 13 + 1)
    assert len(big) > 5 * MB
    status, got = inline_csv(api, big)
    assert status == 413 and got["error"]["code"] == "payload_too_large", got
    # AND the message says where larger files go, with the size and the limit
    assert "POST /v1/uploads with JSON" in got["error"]["message"], got
    assert got["error"]["details"] == [{"size": len(big), "max": 5 * MB}]
    # WHEN a CSV over 50 MB or media over 100 MB is announced, THEN 413 with the size and the limit
    for kind, content_type, limit in (("contacts_csv", "text/csv", 50 * MB), ("media", "image/png", 100 * MB)):
        status, got = api.call(
            "POST", "/v1/uploads", {"kind": kind, "filename": "f", "content_type": content_type, "size": limit + 1}
        )
        assert status == 413 and got["error"]["code"] == "payload_too_large", got
        assert got["error"]["details"] == [{"field": "size", "size": limit + 1, "max": limit}]
        # AND exactly the limit is accepted
        assert announce(api, kind, limit, content_type)["status"] == "processing"


def test_filename_and_content_type_are_checked(api: Api) -> None:
    # WHEN the filename has 127 characters (JSON or inline), THEN 422 filename_too_long
    status, got = api.call(
        "POST", "/v1/uploads", {"kind": "contacts_csv", "filename": "a" * 127, "content_type": "text/csv", "size": 9}
    )
    assert status == 422 and got["error"]["code"] == "filename_too_long", got
    status, got = inline_csv(api, csv_rows("+41791234567,A"), filename="b" * 127)
    assert status == 422 and got["error"]["code"] == "filename_too_long", got
    # AND 126 characters are accepted both ways
    assert announce(api, "contacts_csv", 9, "text/csv", "a" * 126)["filename"] == "a" * 126
    status, got = inline_csv(api, csv_rows("+41791234567,A"), filename="b" * 126)
    assert status == 201 and got["filename"] == "b" * 126, got
    # WHEN a CSV is announced as an image, or the content type is not a media type, THEN 422 invalid_content_type
    for kind, content_type in (("contacts_csv", "image/png"), ("media", "png"), ("media", "image/png\r\nX: y")):
        status, got = api.call(
            "POST", "/v1/uploads", {"kind": kind, "filename": "f", "content_type": content_type, "size": 9}
        )
        assert status == 422 and got["error"]["code"] == "invalid_content_type", (content_type, got)
    # WHEN an inline body is not sent as CSV, THEN 415 unsupported_media_type
    status, got = api.call(
        "POST", "/v1/uploads?kind=contacts_csv&filename=x.csv", raw=b"Number\n", headers={"Content-Type": "text/xml"}
    )
    assert status == 415 and got["error"]["code"] == "unsupported_media_type", got
    # WHEN the inline upload has no filename, THEN 400
    status, got = api.call("POST", "/v1/uploads?kind=contacts_csv", raw=b"Number\n", headers=CSV_HEADERS)
    assert status == 400 and got["error"]["code"] == "invalid_request", got


def test_unknown_or_another_tenants_upload_is_a_404(env: Env, api: Api) -> None:
    # GIVEN tenant A's imported CSV, and tenant B
    status, mine = inline_csv(api, GOOD_CSV)
    assert status == 201 and mine["status"] == "ready"
    _, key_b = create_tenant(env.deps, "B")
    # WHEN an unknown id is asked for, THEN 404 not_found
    status, got = api.call("GET", "/v1/uploads/upl_doesnotexist")
    assert status == 404 and got["error"]["code"] == "not_found"
    # WHEN B asks for A's upload, THEN the same 404
    assert api.call("GET", f"/v1/uploads/{mine['id']}", key=key_b) == (status, got)
    # AND B cannot send to A's contacts from a channel of its own
    status, channel_b = api.call("POST", "/v1/channels", {**SANDBOX_CHANNEL, "name": "B"}, key=key_b)
    assert status == 201, channel_b
    status, got = api.call(
        "POST", "/v1/campaigns", campaign_body([], channel_b["id"], recipients={"upload_id": mine["id"]}), key=key_b
    )
    assert status == 422 and got["error"]["code"] == "upload_not_found", got


# ------------------------------------------------------------------------------------------------ campaigns
def test_campaign_from_an_upload_counts_distinct_numbers_and_carries_the_csv_columns(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN an imported CSV with 3 distinct numbers (one repeated) and two variable columns
    upload = uploaded(api, pump, "contacts_csv", GOOD_CSV, "text/csv")
    # WHEN a campaign goes to the upload alone
    status, created = api.call(
        "POST", "/v1/campaigns", campaign_body([], channel["id"], recipients={"upload_id": upload["id"]})
    )
    # THEN it counts the distinct numbers, and once sent each recipient carries its row's non-empty columns
    assert status == 201, created
    assert created["result"]["total"] == 3 and created["recipients"]["upload_id"] == upload["id"]
    pump.drain()
    assert api.call("GET", f"/v1/campaigns/{created['id']}")[1]["status"] == "completed"
    got = recipients(api, created["id"])
    assert {n: r["variables"] for n, r in got.items()} == {
        "+14155550100": {"first_name": "Ann", "city": "Bern"},
        "+14155550101": {"first_name": "Bob", "city": "Basel"},
        "+14155550102": {"first_name": "Cy"},  # an empty cell is no variable
    }
    assert sent_to(env) == sorted(got)


def test_campaign_from_an_upload_and_typed_numbers_counts_each_number_once(
    env: Env, api: Api, channel: dict[str, Any], pump: Any
) -> None:
    # GIVEN an imported CSV with 3 distinct numbers, and typed numbers: one also in the CSV, one twice, one new
    status, upload = inline_csv(api, GOOD_CSV)
    assert status == 201 and upload["status"] == "ready"
    typed = ["+14155550101", "+14155550199", "+14155550199", "+14155550198"]
    # WHEN a campaign goes to both
    status, created = api.call(
        "POST",
        "/v1/campaigns",
        campaign_body([], channel["id"], recipients={"numbers": typed, "upload_id": upload["id"]}),
    )
    # THEN the total is the distinct numbers of both (3 + 2 new)
    assert status == 201, created
    assert created["result"]["total"] == 5
    pump.drain()
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert done["status"] == "completed" and done["result"]["sent"] == 5, done
    # AND each number got exactly one message
    expected = ["+14155550100", "+14155550101", "+14155550102", "+14155550198", "+14155550199"]
    assert sent_to(env) == expected
    # AND a CSV contact keeps its columns even when also typed; typed-only numbers have none
    got = recipients(api, created["id"])
    assert got["+14155550101"]["variables"] == {"first_name": "Bob", "city": "Basel"}
    assert got["+14155550100"]["variables"]["first_name"] == "Ann"
    assert got["+14155550199"]["variables"] == {} and got["+14155550198"]["variables"] == {}


def test_campaign_refuses_an_upload_not_ready_of_the_wrong_kind_or_rejected(
    env: Env, api: Api, channel: dict[str, Any]
) -> None:
    announced = announce(api, "contacts_csv", 100, "text/csv")
    media = announce(api, "media", 100, "image/png")
    status, rejected = inline_csv(api, csv_rows("0791234567,A"))
    assert rejected["status"] == "rejected"
    for upload_id, code in (
        (announced["id"], "upload_not_ready"),
        (media["id"], "upload_wrong_kind"),
        (rejected["id"], "upload_rejected"),
        ("upl_doesnotexist", "upload_not_found"),
    ):
        # WHEN a campaign's recipients name it
        status, got = api.call(
            "POST", "/v1/campaigns", campaign_body([], channel["id"], recipients={"upload_id": upload_id})
        )
        # THEN 422 with a code that says why, and no campaign
        assert status == 422 and got["error"]["code"] == code, (code, got)
        assert got["error"]["details"][0]["field"] == "recipients.upload_id"
    assert api.call("GET", "/v1/campaigns")[1]["items"] == []
