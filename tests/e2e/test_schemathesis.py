"""A bounded schemathesis run (all checks, 20 examples per operation) against the local stack over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.stackproc import REPO, StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e
API_KEY = "fuzz-key"
# The whole run's budget on a busy 2-core box; the run takes about a minute alone.
RUN_SECONDS = 240


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    proc = start_stack(api_key=API_KEY)
    yield proc
    proc.stop()


def _ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, response.text
    return response.json()


def _context(stack: StackProcess) -> dict[str, Any]:
    """The resources schema-valid requests may name: a channel, uploads, a phonebook, a cursor for each listing."""
    import requests

    channel = _ok(stack.call("GET", f"/v1/channels/{stack.channel_id}"), 200)
    second = dict(name="Second", type="sms", provider="twilio", senders=["+15005550006"], mps=1)
    second["credentials"] = {"account_sid": "AC" + "0" * 32, "auth_token": "fuzz-token"}
    _ok(stack.call("POST", "/v1/channels", second), 201)
    # Which WhatsApp kinds this stack wires: a schema-valid channel of another kind is rightly 422 unsupported_channel.
    kinds = [["twilio", "sms"]]
    whatsapp = dict(name="WA", type="whatsapp", senders=["+14155238886"])
    cloud_creds = {"access_token": "EAAfuzz" + "0" * 24, "app_secret": "0123456789abcdef" * 2, "verify_token": "fuzz"}
    config = {"waba_id": "102290129340398", "phone_number_ids": {"+14155238886": "106540352242922"}}
    probes = {
        ("whatsapp_cloud", "whatsapp"): {**whatsapp, "provider": "whatsapp_cloud", "credentials": cloud_creds},
        ("twilio", "whatsapp"): {**whatsapp, "provider": "twilio", "credentials": second["credentials"]},
    }
    probes[("whatsapp_cloud", "whatsapp")]["provider_config"] = config
    providers = {channel["id"]: channel["provider"]}
    for kind, probe in probes.items():
        answer = stack.call("POST", "/v1/channels", probe)
        assert answer.status_code in (201, 422), answer.text
        if answer.status_code == 201:
            kinds.append(list(kind))
            providers[answer.json()["id"]] = kind[0]
        else:
            assert answer.json()["error"]["code"] == "unsupported_channel", answer.text
    # The channel whose templates are real (the local stack's WhatsApp sandbox, at the simulator), if the stack has it.
    sandbox_wa = stack.call("GET", "/v1/channels/ch_sandbox_wa")
    template_channel = "ch_sandbox_wa" if sandbox_wa.status_code == 200 else None
    template_cursor = None
    template: dict[str, str] | None = None
    if template_channel:
        providers[template_channel] = sandbox_wa.json()["provider"]
        # Its templates, synced from the simulator, and a real cursor for their listing.
        _ok(stack.call("POST", f"/v1/channels/{template_channel}/templates/sync"), 200)
        page = _ok(stack.call("GET", f"/v1/channels/{template_channel}/templates?limit=1"), 200)
        assert page["next_cursor"], page
        template_cursor = page["next_cursor"]
        listed = _ok(stack.call("GET", f"/v1/channels/{template_channel}/templates?limit=200"), 200)["items"]
        hello = next(t["id"] for t in listed if t["name"] == "hello_world")
        template = {"channel_id": template_channel, "sender": sandbox_wa.json()["senders"][0], "template_id": hello}
    every_type = {t: f"+417912345{i:02d}" for i, t in enumerate(("business", "business2", "mobile", "mobile2"))}
    every_type |= {t: f"+417912346{i:02d}" for i, t in enumerate(("home", "home2", "other"))}
    for book in ("fuzz-book", "fuzz-book-2"):
        _ok(stack.call("PUT", f"/v1/phonebooks/{book}", {"name": book, "contacts": [{"numbers": every_type}]}), 201)
    csv = _ok(
        stack.call(
            "POST",
            "/v1/uploads?kind=contacts_csv&filename=fuzz.csv",
            data=b"Number,first_name\n+41791234567,Anna\n",
            headers={"Content-Type": "text/csv"},
        ),
        201,
    )
    assert csv["status"] == "ready", csv
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    announced = {"kind": "media", "filename": "fuzz.png", "content_type": "image/png", "size": len(png)}
    media = _ok(stack.call("POST", "/v1/uploads", announced), 201)
    put = requests.put(media["upload_url"], data=png, headers=media["upload_headers"], timeout=30)
    assert put.status_code == 200, put.text
    ready = wait_for(lambda: stack.call("GET", f"/v1/uploads/{media['id']}").json()["status"] == "ready", 60)
    assert ready, stack.call("GET", f"/v1/uploads/{media['id']}").text
    body = {
        "name": "Fuzz",
        "channel_id": channel["id"],
        "sender": channel["senders"][0],
        "recipients": {"numbers": ["+41791234567", "+41791234568"]},
        "content": {"type": "text", "text": "Hello"},
        "send_time": {"type": "now"},
    }
    sent = _ok(stack.call("POST", "/v1/campaigns", body), 201)
    _ok(stack.call("POST", "/v1/campaigns", {**body, "send_time": {"type": "draft"}}), 201)
    wait_for(lambda: stack.call("GET", f"/v1/campaigns/{sent['id']}/recipients").json()["items"], 60)
    for number in ("%2B14155559001", "%2B14155559002"):  # two numbers on the opt-out list: a real cursor for it
        _ok(stack.call("PUT", f"/v1/opt-outs/{number}"), 200)
    cursors = {}
    listings = (
        "/v1/channels",
        "/v1/phonebooks",
        "/v1/campaigns",
        f"/v1/campaigns/{sent['id']}/recipients",
        "/v1/opt-outs",
    )
    for path in listings:
        page = _ok(stack.call("GET", f"{path}?limit=1"), 200)
        assert page["next_cursor"], (path, page)
        cursors[path.replace(sent["id"], "{campaign_id}")] = page["next_cursor"]
    if template_cursor:
        cursors["/v1/channels/{channel_id}/templates"] = template_cursor
    return {
        "channel_id": channel["id"],
        "sender": channel["senders"][0],
        "csv_upload_id": csv["id"],
        "media_upload_id": media["id"],
        "phonebook_id": "fuzz-book",
        "cursors": cursors,
        "channel_kinds": kinds,
        "channel_providers": providers,
        "template_channel_id": template_channel,
        "template": template,
    }


def test_schemathesis_finds_no_server_error_and_no_refused_valid_request(stack: StackProcess, tmp_path: Path) -> None:
    # GIVEN the local stack, a tenant's key and the resources a valid request may name
    context = _context(stack)
    env = {**os.environ, "FUZZ_CONTEXT": json.dumps(context), "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"}
    env["PYTHONPATH"] = str(REPO)
    # WHEN schemathesis runs every check, 20 examples per operation, against the served document (from a scratch
    # folder: it keeps a crash cache where it runs)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(REPO / "tests" / "e2e" / "schemathesis.toml"),
        "run",
        f"{stack.base}/v1/openapi.json",
        "--url",
        stack.base,
        "--header",
        f"Authorization: Bearer {API_KEY}",
        "--checks",
        "all",
        "--max-examples",
        "20",
        "--workers",
        "2",
        "--seed",
        "20261201",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_SECONDS)
    took = time.monotonic() - started
    report = run.stdout[-20000:] + run.stderr[-5000:]
    # THEN it finds nothing: no server error, no schema-valid request refused, no other check failing
    assert run.returncode == 0, report
    assert "Server error" not in report and "Schema-valid request rejected" not in report, report
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 500, report
    assert "failure" not in report.strip().splitlines()[-1], report
    assert took < RUN_SECONDS, took
