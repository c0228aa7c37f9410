"""Shared fixtures: moto as a real server (boto3 reaches it over HTTP), the Twilio simulator, the app wired to both."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

logging.getLogger("werkzeug").setLevel(logging.WARNING)

# Never reach real AWS from tests, whatever the machine's environment says.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
os.environ.pop("AWS_PROFILE", None)

SIM_ACCOUNT = "AC" + "0" * 31 + "1"
SIM_TOKEN = "sim-auth-token-0123456789abcdef"
SENDER = "+15005550006"
PUBLIC_BASE = "https://hooks.example.test/api"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server for the whole session; boto3 finds it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    from devstack import moto_speed

    moto_speed.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = url
    yield url
    server.stop()
    os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    """The Twilio simulator, over real HTTP."""
    from devstack.twilio_sim import TwilioSimulator

    simulator = TwilioSimulator(callback_delay=0.01).start()
    simulator.add_account(SIM_ACCOUNT, SIM_TOKEN)
    simulator.add_number(SENDER, SIM_ACCOUNT, mps=1000)
    yield simulator
    simulator.stop()


@dataclass
class Env:
    """Everything a functional test drives."""

    deps: Any
    resources: Any
    moto_url: str
    sim: Any

    def sqs(self) -> Any:
        import boto3

        return boto3.client("sqs")


@pytest.fixture
def env(moto_url: str, sim: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A fresh AWS state and the app's dependencies pointed at it and at the simulator."""
    from chalicelib import config, wiring
    from devstack.resources import create_resources

    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    sim.reset()
    sim.configure(no_callbacks=True, graph_no_webhooks=True)
    resources = create_resources(None)
    for key, value in resources.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC_BASE)
    monkeypatch.setenv("TWILIO_API_BASE", sim.url)
    monkeypatch.setenv("GRAPH_API_BASE", f"{sim.url}/graph/v21.0")  # Meta's Graph API at the same simulator
    config.settings.cache_clear()
    deps = wiring.build(config.settings())
    wiring.override(deps)
    sim.wall_clock = deps.clock.now  # Twilio's clock agrees with ours, also when a test moves ours
    sim.meta.wall_clock = deps.clock.now  # and Meta's
    yield Env(deps=deps, resources=resources, moto_url=moto_url, sim=sim)
    sim.wall_clock = sim.meta.wall_clock = time.time
    wiring.override(None)
    config.settings.cache_clear()


@pytest.fixture
def client(env: Env) -> Iterator[Any]:
    """Chalice's test client over the real app; every answer it gets is checked against the OpenAPI document."""
    from chalice.test import Client

    import app as app_module
    from tests.openapi_answers import check_answer

    with Client(app_module.app) as test_client:
        http = test_client.http
        request = http.request

        def checked(method: str, path: str, headers: dict[str, str] | None = None, body: Any = b"") -> Any:
            response = request(method, path, headers=headers, body=body)
            check_answer(method, path, response.status_code, response.headers, response.body)
            return response

        http.request = checked  # type: ignore[method-assign]
        yield test_client


class Api:
    """JSON calls through the Chalice test client with a tenant's key."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> tuple[int, Any]:
        hdrs = {"Authorization": f"Bearer {key or self.key}", "Content-Type": "application/json"}
        hdrs.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=hdrs, body=payload)
        text = response.body.decode("utf-8") if isinstance(response.body, bytes) else response.body
        return response.status_code, (json.loads(text) if text else None)


@pytest.fixture
def tenant(env: Env) -> tuple[str, str]:
    """A tenant and its API key."""
    from chalicelib.services.tenants import create_tenant

    return create_tenant(env.deps, "Acme PBX")


@pytest.fixture
def api(client: Any, tenant: tuple[str, str]) -> Api:
    """The API as the tenant's PBX calls it."""
    return Api(client, tenant[1])


# The channel the tests send through: Twilio, wired to the simulator, fast enough that pacing never waits long.
SANDBOX_CHANNEL: dict[str, Any] = {
    "name": "Sandbox SMS",
    "type": "sms",
    "provider": "twilio",
    "senders": [SENDER],
    "credentials": {"account_sid": SIM_ACCOUNT, "auth_token": SIM_TOKEN},
    "mps": 1000,
}


def set_settings(env: Env, **changes: Any) -> None:
    """Change deployment settings for this test (the app reads them from its dependencies)."""
    env.deps.settings = dataclasses.replace(env.deps.settings, **changes)


def once_before(monkeypatch: pytest.MonkeyPatch, obj: Any, name: str, action: Any) -> list[bool]:
    """Run `action` once just before `obj.name` runs (after its caller has done its own checks)."""
    original, ran = getattr(obj, name), [False]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not ran[0]:
            ran[0] = True
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapped)
    return ran


def campaign_partitions(env: Env) -> set[str]:
    """Partition keys of every recipient and counter item in the table (one CAMPAIGN#... per campaign that has any)."""
    items = boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"]
    return {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("CAMPAIGN#")}


def schedule_of(env: Env, campaign_id: str) -> dict[str, Any]:
    """A campaign's EventBridge Scheduler schedule, as moto holds it."""
    return dict(
        boto3.client("scheduler").get_schedule(Name=f"start-{campaign_id}", GroupName=env.resources.scheduler_group)
    )


@pytest.fixture
def channel(api: Api) -> dict[str, Any]:
    """A Twilio SMS channel wired to the simulator."""
    status, body = api.call("POST", "/v1/channels", SANDBOX_CHANNEL)
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def make_pump(env: Env) -> Any:
    """The event pump over the real app module; its idea of now is the app's clock (which tests may move)."""
    import boto3

    import app as app_module
    from devstack.pump import EventPump

    return EventPump(
        app_module,
        boto3.client("sqs"),
        boto3.client("scheduler"),
        schedule_group=env.resources.scheduler_group,
        timeouts={"send_worker": 300.0, "upload_worker": 900.0},
        now=env.deps.clock.utcnow,
    )


def settle_time(env: Env, pump: Any, rounds: int = 1, seconds: float | None = None) -> None:
    """Let uncertain hand-overs come due, as the minute tick sees them: move the app's clock past the settle wait
    (or `seconds`), run the tick, and work what it queues (`rounds` times)."""
    for _ in range(rounds):
        env.deps.clock.offset += seconds if seconds is not None else env.deps.settings.settle_seconds + 1
        pump.run_ticks()
        pump.drain()


@pytest.fixture
def pump(env: Env) -> Any:
    """The event pump over the real app module."""
    return make_pump(env)


# Twilio's failing test numbers and the error code each gets.
FAILING = {
    "+15005550001": "21211",
    "+15005550002": "21612",
    "+15005550003": "21408",
    "+15005550004": "21610",
    "+15005550009": "21614",
}


def campaign_body(numbers: list[Any], channel_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid text campaign, to be varied by each test."""
    body = {
        "name": "Spring promo",
        "channel_id": channel_id,
        "sender": SENDER,
        "recipients": {"numbers": numbers},
        "content": {"type": "text", "text": "Hello 👋"},
        "send_time": {"type": "now"},
        "send_mode": "direct",
    }
    body.update(overrides)
    return body
