"""End to end over HTTP only: a contact CSV through the presigned URL, a campaign to it, and a retry of its failures.

The local stack runs as `make run` runs it (a child process); the test talks to the API, to the presigned S3 URL
(moto) and to the Twilio simulator's /sim/* controls, never to our code in-process.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.stackproc import StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e

API_KEY = "dev-key"  # what `make run` seeds by default
SENDER = "+15005550006"
INVALID = "+15005550001"  # Twilio test number: 21211 invalid 'To'
OPTED_OUT = "+15005550004"  # Twilio test number: 21610 unsubscribed recipient
TEXT = "Spring promo: 20% off this week 👋"
# The simulator's failure injection cannot target a number; it fails the next N create-message calls with a 500
# (Twilio 20500). After a 500 Twilio may or may not have the message, so the sender leaves it uncertain and the
# settle job checks Twilio's records: absent, it is sent again as attempt 2. With one send in flight (mps 2 ->
# parallelism 1) the first TRANSIENT recipients in file order meet the 500s, deterministically.
TRANSIENT = 3

# 30 good numbers: US 415-555 and Swiss mobiles, with names and cities that need UTF-8 and CSV quoting.
GOOD: list[tuple[str, str, str]] = [
    ("+14155550100", "Zoë Müller", "Zürich"),
    ("+41791234501", "Jean-Luc Dubois", "Biel; Bienne"),
    ("+14155550102", "Ana Ñúñez", "San José"),
    *[(f"+1415555{103 + i:04d}", f"Contact {i + 3}", "San Francisco") for i in range(12)],
    *[(f"+4179123{4515 + i:04d}", f"Kontakt {i + 15}", "Genève") for i in range(15)],
]
assert len(GOOD) == 30 and len({n for n, _, _ in GOOD}) == 30


def _cell(value: str) -> str:
    return f'"{value}"' if ";" in value or '"' in value else value


def _contacts_csv() -> tuple[bytes, list[tuple[str, str, str]]]:
    """The file (BOM, `;`, CRLF) and the distinct contacts in file order (first occurrence wins)."""
    rows = list(GOOD[:15])
    rows.append((GOOD[1][0], "Duplicate Of Jean-Luc", "Elsewhere"))  # duplicate: dropped, first row's values kept
    rows.append((INVALID, "Invalid Number", "Nowhere"))
    rows.extend(GOOD[15:])
    rows.append((GOOD[20][0], "Duplicate Again", "Elsewhere"))
    rows.append((OPTED_OUT, "Opted Out", "Bern"))
    lines = ["Name;Number;City"] + [f"{_cell(name)};{number};{_cell(city)}" for number, name, city in rows]
    data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    distinct: dict[str, tuple[str, str, str]] = {}
    for number, name, city in rows:
        distinct.setdefault(number, (number, name, city))
    return data, list(distinct.values())


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    # A short settle wait and tick, so a 500's uncertain hand-over is settled within seconds.
    s = start_stack(api_key=API_KEY, extra_env={"SETTLE_SECONDS": "2", "TICK_SECONDS": "1"})
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.text}"
    return response.json()


def _sim(stack: StackProcess, method: str, path: str, body: Any = None) -> Any:
    return _ok(requests.request(method, f"{stack.sim}{path}", json=body, timeout=10))


def _campaign(stack: StackProcess, campaign_id: str) -> dict[str, Any]:
    return _ok(stack.call("GET", f"/v1/campaigns/{campaign_id}"))


def _recipients(stack: StackProcess, campaign_id: str) -> dict[str, dict[str, Any]]:
    page = _ok(stack.call("GET", f"/v1/campaigns/{campaign_id}/recipients?limit=200"))
    assert page["next_cursor"] is None
    return {r["number"]: r for r in page["items"]}


def _settled(stack: StackProcess, campaign_id: str, delivered: int) -> Any:
    """The campaign once completed with `delivered` delivery callbacks recorded (they arrive after the send)."""
    body = _campaign(stack, campaign_id)
    return body if body["status"] == "completed" and body["result"]["delivered"] == delivered else None


def _debug(stack: StackProcess, campaign_id: str) -> str:
    return (
        f"campaign: {_campaign(stack, campaign_id)}\nrecipients: {_recipients(stack, campaign_id)}\n"
        f"sim stats: {_sim(stack, 'GET', '/sim/stats')}\nstack log:\n" + "".join(stack.output[-60:])
    )


@pytest.mark.timeout(180)
def test_csv_upload_campaign_then_retry_of_its_failures(stack: StackProcess) -> None:
    started = time.monotonic()
    data, contacts = _contacts_csv()
    numbers = [number for number, _, _ in contacts]
    assert len(numbers) == 32
    good = [number for number, _, _ in GOOD]
    transient, ok_first = good[:TRANSIENT], good[TRANSIENT:]

    # GIVEN a contact CSV announced to the API and PUT to the presigned URL it answers (moto's S3)
    announced = _ok(
        stack.call(
            "POST",
            "/v1/uploads",
            {"kind": "contacts_csv", "filename": "contacts.csv", "content_type": "text/csv", "size": len(data)},
        ),
        201,
    )
    assert announced["upload_method"] == "PUT" and announced["status"] == "processing", announced
    assert announced["upload_url"].startswith("http://127.0.0.1:"), announced["upload_url"]
    put = requests.put(announced["upload_url"], data=data, headers=announced["upload_headers"], timeout=30)
    assert put.status_code == 200, put.text

    # WHEN the S3 event reaches the upload worker (upload queue -> event pump) THEN the import is ready
    upload_id = announced["id"]
    upload = wait_for(
        lambda: (u := _ok(stack.call("GET", f"/v1/uploads/{upload_id}")))["status"] != "processing" and u,
        timeout=60,
    )
    assert upload, _ok(stack.call("GET", f"/v1/uploads/{upload_id}"))
    assert upload["status"] == "ready", upload
    assert (upload["rows"], upload["valid"], upload["invalid"], upload["duplicates"]) == (34, 34, 0, 2), upload
    assert upload["columns"] == ["Name", "Number", "City"]
    assert upload["errors"] == []

    # AND the provider will answer 500 to the next 3 sends (keeping nothing), one send in flight at a time
    channel = _ok(stack.call("PATCH", f"/v1/channels/{stack.channel_id}", {"mps": 2}))
    assert channel["mps"] == 2
    assert _sim(stack, "POST", "/sim/config", {"server_error_next": TRANSIENT})["server_error_next"] == TRANSIENT
    stats0 = _sim(stack, "GET", "/sim/stats")
    seen0 = len(_sim(stack, "GET", "/sim/messages")["items"])

    # WHEN a campaign to the upload is sent now
    created = _ok(
        stack.call(
            "POST",
            "/v1/campaigns",
            {
                "name": "CSV e2e",
                "channel_id": stack.channel_id,
                "sender": SENDER,
                "recipients": {"upload_id": upload_id},
                "content": {"type": "text", "text": TEXT},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
        ),
        201,
    )
    campaign_id = created["id"]
    assert created["status"] == "executing" and created["result"]["total"] == 32, created
    assert created["recipients"]["upload_id"] == upload_id

    # THEN it completes: 21211 and 21610 failed, everyone else delivered; the three that met a 500 were found absent
    # in Twilio's records and sent again, once
    done = wait_for(lambda: _settled(stack, campaign_id, delivered=30), timeout=90, interval=0.5)
    assert done, _debug(stack, campaign_id)
    assert done["result"] == {
        "total": 32,
        "sent": 30,
        "delivered": 30,
        "read": 0,
        "failed": 2,
        "pending": 0,
        "skipped": 0,
    }, done
    first = _recipients(stack, campaign_id)
    assert list(first) == numbers, "recipients are the CSV's distinct numbers in file order"
    for number, name, city in contacts:
        assert first[number]["variables"] == {"Name": name, "City": city}, first[number]
    assert all(first[n]["attempts"] == 1 for n in numbers if n not in transient), first
    for number in transient:
        r = first[number]
        assert (r["status"], r["attempts"], r["error"]) == ("delivered", 2, None), r
        assert r["provider_message_id"] and r["sent_at"] and r["delivered_at"], r
    assert first[INVALID]["status"] == "failed" and first[INVALID]["error"]["code"] == "21211", first[INVALID]
    assert first[OPTED_OUT]["status"] == "failed" and first[OPTED_OUT]["error"]["code"] == "21610"
    for number in ok_first:
        assert first[number]["status"] == "delivered" and first[number]["error"] is None, first[number]
        assert first[number]["provider_message_id"], first[number]
    failed_page = _ok(stack.call("GET", f"/v1/campaigns/{campaign_id}/recipients?status=failed"))
    assert {r["number"] for r in failed_page["items"]} == {INVALID, OPTED_OUT}
    stats1 = _sim(stack, "GET", "/sim/stats")
    assert stats1["server_errors"] - stats0["server_errors"] == TRANSIENT
    assert stats1["accepted"] - stats0["accepted"] == 30
    assert stats1["rejected"] - stats0["rejected"] == 2

    # WHEN the campaign's failures are retried
    retried = _ok(stack.call("POST", f"/v1/campaigns/{campaign_id}/retry"))
    assert retried["status"] == "retrying", retried

    # THEN it completes again: 21211 is tried again and still fails, 21610 (opted out) is not tried again
    again = wait_for(lambda: _settled(stack, campaign_id, delivered=30), timeout=60, interval=0.5)
    assert again, _debug(stack, campaign_id)
    assert again["result"] == {
        "total": 32,
        "sent": 30,
        "delivered": 30,
        "read": 0,
        "failed": 2,
        "pending": 0,
        "skipped": 0,
    }, again
    second = _recipients(stack, campaign_id)
    assert (second[INVALID]["status"], second[INVALID]["attempts"]) == ("failed", 2), second[INVALID]
    assert second[INVALID]["error"]["code"] == "21211"
    assert (second[OPTED_OUT]["status"], second[OPTED_OUT]["attempts"]) == ("failed", 1), second[OPTED_OUT]
    assert second[OPTED_OUT]["error"]["code"] == "21610"
    for number in good:
        assert second[number] == first[number], "a recipient delivered on the first pass was left as it was"
    for number, name, city in contacts:
        assert second[number]["variables"] == {"Name": name, "City": city}

    # AND the provider accepted each good number exactly once over both passes: no duplicate sends
    accepted = _sim(stack, "GET", "/sim/messages")["items"][seen0:]
    assert Counter(m["to"] for m in accepted) == Counter(good), Counter(m["to"] for m in accepted)
    assert all(m["from"] == SENDER and m["body"] == TEXT and m["status"] == "delivered" for m in accepted)
    by_number = {m["to"]: m["sid"] for m in accepted}
    assert all(second[n]["provider_message_id"] == by_number[n] for n in good)
    stats2 = _sim(stack, "GET", "/sim/stats")
    assert stats2["accepted"] == stats1["accepted"]
    assert stats2["rejected"] - stats1["rejected"] == 1, "only 21211 is sent again"
    assert stats2["server_errors"] == stats1["server_errors"]
    log = "".join(stack.output)
    assert "Traceback" not in log and "ERROR" not in log, log[-5000:]
    print(f"\ncsv -> campaign -> retry e2e took {time.monotonic() - started:.1f}s")
