"""Replies and opt-outs end to end over the Chalice test client, moto and the Twilio simulator: the simulator's
`/sim/inbound` posts a signed inbound webhook, which a relay on 127.0.0.1 hands to the app as API Gateway would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.conftest import SENDER, SIM_ACCOUNT, Api, Env, campaign_body, set_settings

CONTACT = "+41415084545"
OTHERS = ["+14155550100", "+14155550101", "+14155550102", "+14155550103"]
OPTED_OUT_AT_TWILIO = "+15005550004"  # the simulator refuses it with 21610, as Twilio does
WAIT = 10


@dataclass
class Relay:
    """An HTTP server handing each webhook the simulator posts to the app (through the test client)."""

    url: str
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    client: Any = None

    def replay(self) -> int:
        """Post the last webhook again, as a provider's retry would; the app's status."""
        path, headers, body = self.posts[-1]
        return int(self.client.http.post(path, headers=headers, body=body).status_code)


@pytest.fixture
def relay(client: Any, env: Env) -> Iterator[Relay]:
    """The relay, the app's public base URL (the one it signs webhook URLs with) pointing at it."""
    found = Relay(url="", client=client)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-twilio-signature")}
            with lock:  # the test client serves one request at a time
                found.posts.append((self.path, headers, body))
                answer = client.http.post(self.path, headers=headers, body=body)
            payload = answer.body if isinstance(answer.body, bytes) else str(answer.body).encode()
            self.send_response(answer.status_code)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    set_settings(env, public_base_url=found.url)
    yield found
    server.shutdown()
    server.server_close()
    env.sim.add_number(SENDER, SIM_ACCOUNT, mps=1000)  # the session's simulator forgets this test's inbound URL


@pytest.fixture
def inbound(env: Env, relay: Relay, channel: dict[str, Any]) -> Any:
    """Text the channel's sender from a number, through the simulator; the app's answer status."""
    env.sim.add_number(
        SENDER, SIM_ACCOUNT, mps=1000, inbound_url=f"{relay.url}/webhooks/twilio/{channel['id']}/inbound"
    )

    def text(from_number: str, body: str) -> int:
        answer = requests.post(
            f"{env.sim.url}/sim/inbound", json={"from": from_number, "to": SENDER, "body": body}, timeout=WAIT
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["status"])

    return text


def run(api: Api, pump: Any, channel: dict[str, Any], numbers: list[str], name: str = "Promo") -> dict[str, Any]:
    """A direct campaign to `numbers`, sent and completed; the campaign as answered then."""
    status, created = api.call("POST", "/v1/campaigns", campaign_body(numbers, channel["id"], name=name))
    assert status == 201, created
    pump.drain()
    status, done = api.call("GET", f"/v1/campaigns/{created['id']}")
    assert status == 200 and done["status"] == "completed", done
    return done  # type: ignore[no-any-return]


def recipients(api: Api, campaign_id: str) -> dict[str, dict[str, Any]]:
    status, page = api.call("GET", f"/v1/campaigns/{campaign_id}/recipients")
    assert status == 200
    return {r["number"]: r for r in page["items"]}


def test_a_reply_sets_responded_and_the_response_rate(
    api: Api, channel: dict[str, Any], pump: Any, env: Env, relay: Relay, inbound: Any
) -> None:
    # GIVEN a direct campaign to five numbers, sent
    done = run(api, pump, channel, [CONTACT, *OTHERS])
    assert (done["responded"], done["response_rate"]) == (0, 0)
    # WHEN one contact replies through Twilio, and Twilio delivers that webhook twice
    assert inbound(CONTACT, "Sounds good") == 200
    assert relay.replay() == 200
    # THEN the campaign has one response of five accepted, and the recipient its reply's time
    status, got = api.call("GET", f"/v1/campaigns/{done['id']}")
    assert (got["responded"], got["response_rate"]) == (1, 0.2)
    assert got["result"]["total"] == 5 and got["result"]["sent"] == 5
    by_number = recipients(api, done["id"])
    assert by_number[CONTACT]["responded_at"] is not None
    assert all(by_number[n]["responded_at"] is None for n in OTHERS)
    # AND the campaign list shows the same figures
    status, listed = api.call("GET", "/v1/campaigns")
    assert [(c["responded"], c["response_rate"]) for c in listed["items"]] == [(1, 0.2)]


def test_stop_opts_out_the_next_campaign_skips_and_start_restores(
    api: Api, channel: dict[str, Any], pump: Any, env: Env, inbound: Any
) -> None:
    # GIVEN a campaign the contact got
    run(api, pump, channel, [CONTACT, OTHERS[0]])
    # WHEN it replies STOP
    assert inbound(CONTACT, " Stop ") == 200
    # THEN it is on the opt-out list, by keyword, through the channel
    status, listed = api.call("GET", "/v1/opt-outs")
    assert status == 200
    [entry] = listed["items"]
    assert (entry["number"], entry["source"], entry["channel_id"]) == (CONTACT, "keyword", channel["id"])
    assert listed["next_cursor"] is None
    # WHEN the next campaign goes to it and another number
    before = len(env.sim.messages())
    second = run(api, pump, channel, [CONTACT, OTHERS[1]], "Second")
    # THEN the provider never got it: skipped, opted_out, counted in result.skipped
    assert [m["to"] for m in env.sim.messages()[before:]] == [OTHERS[1]]
    skipped = recipients(api, second["id"])[CONTACT]
    assert (skipped["status"], skipped["error"]["code"]) == ("skipped", "opted_out")
    assert second["result"]["skipped"] == 1 and second["result"]["sent"] == 1
    # AND retrying that campaign resends nothing
    status, retried = api.call("POST", f"/v1/campaigns/{second['id']}/retry")
    assert status == 409 and retried["error"]["code"] == "nothing_to_retry"
    # WHEN it replies START THEN it is off the list and the next campaign reaches it
    assert inbound(CONTACT, "START") == 200
    assert api.call("GET", "/v1/opt-outs")[1]["items"] == []
    before = len(env.sim.messages())
    run(api, pump, channel, [CONTACT], "Third")
    assert [m["to"] for m in env.sim.messages()[before:]] == [CONTACT]


def test_a_21610_refusal_puts_the_number_on_the_list_from_the_provider(
    api: Api, channel: dict[str, Any], pump: Any, env: Env
) -> None:
    # GIVEN a campaign to Twilio's test number that answers 21610 (the recipient opted out at Twilio)
    done = run(api, pump, channel, [OPTED_OUT_AT_TWILIO, OTHERS[0]])
    assert recipients(api, done["id"])[OPTED_OUT_AT_TWILIO]["error"]["code"] == "21610"
    # THEN the number is on the opt-out list, source provider
    status, listed = api.call("GET", "/v1/opt-outs")
    assert [(e["number"], e["source"], e["channel_id"]) for e in listed["items"]] == [
        (OPTED_OUT_AT_TWILIO, "provider", channel["id"])
    ]
    # AND retry does not send to it again (nothing else failed)
    status, retried = api.call("POST", f"/v1/campaigns/{done['id']}/retry")
    assert status == 409 and retried["error"]["code"] == "nothing_to_retry"


def test_the_opt_out_api_puts_lists_and_deletes_numbers(api: Api, channel: dict[str, Any], pump: Any, env: Env) -> None:
    # WHEN the PBX puts a number on the list (its + percent-encoded), twice
    status, first = api.call("PUT", "/v1/opt-outs/%2B41415084545")
    assert status == 200 and (first["number"], first["source"], first["channel_id"]) == (CONTACT, "api", None)
    status, again = api.call("PUT", "/v1/opt-outs/%2B41415084545")
    assert status == 200 and again == first
    # AND another, then pages through the list
    assert api.call("PUT", "/v1/opt-outs/+14155550100")[0] == 200
    status, page = api.call("GET", "/v1/opt-outs?limit=1")
    assert status == 200 and [e["number"] for e in page["items"]] == [OTHERS[0]] and page["next_cursor"]
    status, rest = api.call("GET", f"/v1/opt-outs?limit=1&cursor={page['next_cursor']}")
    assert [e["number"] for e in rest["items"]] == [CONTACT] and rest["next_cursor"] is None
    # THEN a campaign skips both
    done = run(api, pump, channel, [CONTACT, OTHERS[0], OTHERS[1]])
    assert done["result"]["skipped"] == 2 and [m["to"] for m in env.sim.messages()] == [OTHERS[1]]
    # WHEN one is deleted, twice, and a number never listed is deleted THEN each is 204, one number is left
    for path in ("/v1/opt-outs/%2B41415084545", "/v1/opt-outs/%2B41415084545", "/v1/opt-outs/%2B14155550199"):
        assert api.call("DELETE", path)[0] == 204
    assert [e["number"] for e in api.call("GET", "/v1/opt-outs")[1]["items"]] == [OTHERS[0]]


@pytest.mark.parametrize(
    "path", ["/v1/opt-outs/41415084545", "/v1/opt-outs/%2B4141", "/v1/opt-outs/abc", "/v1/opt-outs/%2B" + "1" * 300]
)
def test_a_number_that_is_not_e164_is_422_on_put_and_delete(api: Api, path: str) -> None:
    for method in ("PUT", "DELETE"):
        status, answer = api.call(method, path)
        assert status == 422 and answer["error"]["code"] == "invalid_phone_number", (method, answer)
    assert api.call("GET", "/v1/opt-outs")[1]["items"] == []


def test_opt_outs_are_the_tenants_own(api: Api, client: Any, env: Env) -> None:
    from chalicelib.services.tenants import create_tenant

    # GIVEN a number another tenant put on its list
    _, other_key = create_tenant(env.deps, "Other PBX")
    other = Api(client, other_key)
    assert other.call("PUT", "/v1/opt-outs/%2B41415084545")[0] == 200
    # THEN this tenant's list does not have it, and no key is no answer
    assert api.call("GET", "/v1/opt-outs")[1]["items"] == []
    assert api.call("GET", "/v1/opt-outs", key="wrong")[0] == 401
