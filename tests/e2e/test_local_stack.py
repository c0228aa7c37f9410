"""End to end over HTTP against the local stack exactly as `make run` serves it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import SANDBOX_ACCOUNT_SID
from devstack.stackproc import StackProcess, start_stack, wait_for
from tests.conftest import FAILING

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


def _campaign(stack: StackProcess, numbers: list[str], text: str = "Hello 👋") -> dict[str, Any]:
    response = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "e2e",
            "channel_id": stack.channel_id,
            "sender": "+15005550006",
            "recipients": {"numbers": numbers},
            "content": {"type": "text", "text": text},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _completed(stack: StackProcess, campaign_id: str) -> Any:
    body = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()
    return body if body["status"] == "completed" else None


def _reported(stack: StackProcess, campaign_id: str) -> Any:
    """The campaign once completed and every recipient's final report is in (`result.sent` counts every hand-over,
    so it is delivered + failed that must reach the total)."""
    body = _completed(stack, campaign_id)
    if body is None:
        return None
    result = body["result"]
    return body if result["delivered"] + result["failed"] >= result["total"] else None


def test_readme_curl_example_completes(stack: StackProcess) -> None:
    # GIVEN the curl command the stack prints
    printed = "".join(stack.output)
    match = re.search(r"-d '(\{\"name\".*?\})'\n", printed)
    assert match, printed
    # WHEN it is sent as printed
    response = requests.post(
        f"{stack.base}/v1/campaigns",
        data=match.group(1).encode("utf-8"),
        timeout=30,
        headers={"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    # THEN the campaign completes: one delivered, one failed with Twilio's 21211
    done = wait_for(lambda: _completed(stack, response.json()["id"]), timeout=60)
    assert done, "campaign did not complete"
    assert done["result"]["total"] == 2 and done["result"]["failed"] == 1
    delivered = wait_for(
        lambda: stack.call("GET", f"/v1/campaigns/{done['id']}").json()["result"]["delivered"] == 1, timeout=30
    )
    assert delivered, "the simulator's signed delivery callback was not recorded"


@pytest.mark.timeout(900)
def test_thousand_recipients_with_duplicates_and_failing_numbers(stack: StackProcess) -> None:
    # GIVEN 995 distinct good numbers, 50 duplicates of them, and Twilio's five failing test numbers
    good = [f"+1415555{i:04d}" for i in range(995)]
    numbers = good + good[:50] + list(FAILING)
    before = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()["accepted"]
    # WHEN the campaign is sent now
    created = _campaign(stack, numbers)
    assert created["result"]["total"] == 1000
    # THEN it completes with total 1000 and exactly the five failures, each with its code
    done = wait_for(lambda: _completed(stack, created["id"]), timeout=300, interval=1.0)
    assert done, stack.call("GET", f"/v1/campaigns/{created['id']}").json()
    assert done["result"]["total"] == 1000
    assert done["result"]["failed"] == 5
    assert done["result"]["sent"] == 995
    failed = stack.call("GET", f"/v1/campaigns/{created['id']}/recipients?status=failed&limit=200").json()
    assert {r["number"]: r["error"]["code"] for r in failed["items"]} == FAILING
    # AND the provider accepted each good number exactly once
    after = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()["accepted"]
    assert after - before == 995


def test_bad_requests_get_the_contract_shape_over_http(stack: StackProcess) -> None:
    # GIVEN malformed requests WHEN sent over HTTP THEN each gets its 4xx in the contract's error shape
    cases = [
        (
            stack.call("POST", "/v1/campaigns", data=b"{not json", headers={"Content-Type": "application/json"}),
            400,
            "invalid_request",
        ),
        (
            stack.call("POST", "/v1/campaigns", data=b"x", headers={"Content-Type": "text/plain"}),
            415,
            "unsupported_media_type",
        ),
        (requests.get(f"{stack.base}/v1/campaigns", timeout=10), 401, "unauthorized"),
        (stack.call("GET", "/v1/campaigns/cmp_nope"), 404, "not_found"),
        (
            requests.post(
                f"{stack.base}/webhooks/twilio/{stack.channel_id}/status", data={"MessageStatus": "read"}, timeout=10
            ),
            403,
            "invalid_signature",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code


def test_unknown_route_is_a_404_that_does_not_echo_the_key(stack: StackProcess) -> None:
    # GIVEN the stack as `make run` serves it WHEN the PBX calls a route that does not exist, with its key
    response = stack.call("GET", "/v1/no-such-thing")
    # THEN 404 in the contract's error shape, and the key is not repeated back
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert stack.api_key not in response.text


def test_the_readme_contacts_csv_becomes_a_campaign(stack: StackProcess) -> None:
    # GIVEN the example contact file the README's curl uploads
    root = Path(__file__).resolve().parents[2]
    assert "--data-binary @examples/contacts.csv" in (root / "README.md").read_text()
    csv = (root / "examples" / "contacts.csv").read_bytes()
    # WHEN it is uploaded inline, as there, and a campaign is sent to it
    upload = stack.call(
        "POST",
        "/v1/uploads?kind=contacts_csv&filename=contacts.csv",
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201, upload.text

    def processed() -> Any:
        found = stack.call("GET", f"/v1/uploads/{upload.json()['id']}").json()
        return found if found["status"] != "processing" else None

    ready = wait_for(processed, timeout=30)
    assert ready["status"] == "ready", ready
    assert (ready["rows"], ready["duplicates"], ready["invalid"]) == (5, 1, 0)
    response = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "From the CSV",
            "channel_id": stack.channel_id,
            "sender": "+15005550006",
            "recipients": {"upload_id": ready["id"]},
            "content": {"type": "text", "text": "Spring sale today"},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
    )
    assert response.status_code == 201, response.text
    # THEN it completes as the README says: 4 recipients, 3 delivered, 1 failed (Twilio's 21211 test number); completed
    # means every recipient was handed over, and the delivery reports may come in after it: wait for those too
    done = wait_for(lambda: _reported(stack, response.json()["id"]), timeout=60)
    assert done, "campaign did not complete"
    assert (done["result"]["total"], done["result"]["delivered"], done["result"]["failed"]) == (4, 3, 1)


def test_readme_example_is_the_one_the_stack_serves(stack: StackProcess) -> None:
    # GIVEN the README's curl example WHEN its body is sent to the stack THEN it is accepted as written
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    body = re.search(r"-d '(\{.*?\})'\n", readme, re.S)
    assert body, "README has no curl example"
    response = requests.post(
        f"{stack.base}/v1/campaigns",
        data=body.group(1).encode("utf-8"),
        timeout=30,
        headers={"Authorization": "Bearer e2e-key", "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert wait_for(lambda: _completed(stack, response.json()["id"]), timeout=60)


def _at_sim(stack: StackProcess, numbers: list[str]) -> list[str]:
    """The numbers among `numbers` the simulator has accepted a message to, once per message."""
    wanted = set(numbers)
    items = requests.get(f"{stack.sim}/sim/messages", timeout=10).json()["items"]
    return [m["to"] for m in items if m["to"] in wanted]


def _sandbox_rate(stack: StackProcess, mps: float) -> None:
    """The sandbox channel's rate, and its number's at the simulator."""
    assert stack.call("PATCH", f"/v1/channels/{stack.channel_id}", {"mps": mps}).status_code == 200
    requests.post(
        f"{stack.sim}/sim/numbers",
        json={"number": "+15005550006", "account_sid": SANDBOX_ACCOUNT_SID, "mps": mps},
        timeout=10,
    ).raise_for_status()


def test_pause_holds_within_seconds_and_resume_sends_each_number_once(stack: StackProcess) -> None:
    # GIVEN a sender at 2 messages a second (it hands Twilio 5 s ahead, then is woken for more) and 30 recipients
    numbers = [f"+1415777{i:04d}" for i in range(30)]
    _sandbox_rate(stack, 2)
    try:
        created = _campaign(stack, numbers, text="Pause me")
        assert wait_for(lambda: len(_at_sim(stack, numbers)) >= 12, 30), _at_sim(stack, numbers)
        # WHEN the admin pauses it mid-way
        paused = stack.call("POST", f"/v1/campaigns/{created['id']}/pause")
        assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
        # THEN within seconds the simulator receives nothing more for it, however long it stays paused
        time.sleep(3)
        held = len(_at_sim(stack, numbers))
        time.sleep(6)
        assert len(_at_sim(stack, numbers)) == held < len(numbers)
        # WHEN it is resumed THEN it completes, each number handed over exactly once
        resumed = stack.call("POST", f"/v1/campaigns/{created['id']}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "executing", resumed.text
        assert wait_for(lambda: _completed(stack, created["id"]), 60), stack.call(
            "GET", f"/v1/campaigns/{created['id']}"
        ).text
        assert sorted(_at_sim(stack, numbers)) == sorted(numbers)
    finally:
        _sandbox_rate(stack, 50)
