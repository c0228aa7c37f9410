"""End to end on the local stack: a tenant points its events at a receiver on 127.0.0.1, sends a campaign, and the
stack's pump delivers the campaign's status changes there, signed with the secret the first PATCH answered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.domain.pbx_events import verify
from devstack.stackproc import StackProcess, start_stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    s = start_stack()
    yield s
    assert s.stop() == 0, "".join(s.output[-30:])


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[dict[str, str], str]]]]:
    """A receiver on 127.0.0.1 (a free port): its URL and what it got."""
    got: list[tuple[dict[str, str], str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/events", got
    server.shutdown()


def test_a_campaigns_status_changes_reach_the_event_url_signed(
    stack: StackProcess, received: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    url, got = received
    # GIVEN the tenant's event_url is the receiver (the first PATCH answers the secret)
    response = stack.call("PATCH", "/v1/tenant", {"event_url": url})
    assert response.status_code == 200, response.text
    secret = response.json()["event_secret"]
    assert "event_secret" not in stack.call("GET", "/v1/tenant").json()
    # WHEN a campaign is sent
    body = {
        "name": "events e2e",
        "channel_id": stack.channel_id,
        "sender": "+15005550006",
        "recipients": {"numbers": ["+41415084545"]},
        "content": {"type": "text", "text": "Hello"},
        "send_time": {"type": "now"},
        "send_mode": "direct",
    }
    created = stack.call("POST", "/v1/campaigns", body).json()

    def completed() -> Any:
        events = [json.loads(b) for _, b in got]
        done = [
            e
            for e in events
            if e["detail"].get("campaign_id") == created["id"] and e["detail"]["status"] == "completed"
        ]
        return done[0] if done else None

    # THEN the receiver gets its completion, signed with the secret, its result counted
    done = wait_for(completed, timeout=60)
    assert done["type"] == "Campaign Status Changed" and done["detail"]["result"]["total"] == 1
    for headers, text in got:
        assert verify(text, headers["x-msgcampaigns-signature"], secret)
    stack.call("PATCH", "/v1/tenant", {"event_url": None})
