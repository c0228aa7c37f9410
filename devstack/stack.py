"""`make run`: the whole service on this machine.

One process: moto as embedded AWS (a real HTTP server boto3 reaches through AWS_ENDPOINT_URL) with the resources of
infra/template.json, the Twilio simulator, the Chalice app behind Chalice's local HTTP server, and the event pump
(SQS trigger, Scheduler one-time schedules, the minute tick). It seeds a tenant, the `Sandbox SMS` channel and the
`Sandbox WhatsApp` channel (Meta's Cloud API at the simulator's /graph/, its sandbox WABA and five templates) and prints
how to call them. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.meta_sim import sandbox as meta_sandbox

REPO = Path(__file__).resolve().parents[1]
# Shaped like a real Account SID ("AC" + 32 hex digits; 5a4db0c5 reads "sandbox"): channels with any other are refused.
SANDBOX_ACCOUNT_SID = "AC" + "0" * 24 + "5a4db0c5"
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"
SANDBOX_SENDER = "+15005550006"
SANDBOX_MPS = 50
# A fixed id, so the README's curl example works as written.
SANDBOX_CHANNEL_ID = "ch_sandbox"
# The WhatsApp Cloud sandbox (API.md, Local stack): the simulator's sandbox WABA (devstack/meta_sim/sandbox.py).
SANDBOX_WA_CHANNEL_ID = "ch_sandbox_wa"
SANDBOX_WA_ACCESS_TOKEN = meta_sandbox.ACCESS_TOKEN
SANDBOX_WA_APP_SECRET = meta_sandbox.APP_SECRET
SANDBOX_WA_VERIFY_TOKEN = meta_sandbox.VERIFY_TOKEN


@dataclass
class Stack:
    """A running local stack."""

    port: int
    sim_port: int
    api_key: str
    tenant_id: str
    channel_id: str
    moto_url: str
    stop_event: threading.Event
    wa_channel_id: str = SANDBOX_WA_CHANNEL_ID
    chaos: Any = None  # devstack/chaos.py's Chaos when CHAOS is set
    pump: Any = None  # devstack/pump.py's EventPump (its stats are printed as the stack stops)

    def banner(self) -> tuple[str, str]:
        """How to call it, and the line that says it is ready."""
        base = f"http://127.0.0.1:{self.port}"
        body = json.dumps(
            {
                "name": "Hello from the sandbox",
                "channel_id": self.channel_id,
                "sender": SANDBOX_SENDER,
                "recipients": {"numbers": ["+41415084545", "+15005550001"]},
                "content": {"type": "text", "text": "Hello 👋"},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
            ensure_ascii=False,
        )
        return (
            f"""
Message Campaigns is running.
  API        {base}   (API key: {self.api_key}; tenant {self.tenant_id})
  Simulator  http://127.0.0.1:{self.sim_port}   (Twilio Messages API; Meta Graph API under /graph/; GET /sim/messages)
  AWS (moto) {self.moto_url}
  Channel    Sandbox SMS  id {self.channel_id}  sender {SANDBOX_SENDER}  mps {SANDBOX_MPS}
  Channel    Sandbox WhatsApp  id {self.wa_channel_id}  sender {meta_sandbox.SENDER}  mps {meta_sandbox.MPS}
             (Cloud API: waba {meta_sandbox.WABA_ID}, phone_number_id {meta_sandbox.PHONE_NUMBER_ID};
              app secret {SANDBOX_WA_APP_SECRET}; verify token {SANDBOX_WA_VERIFY_TOKEN})
  Channel    Sandbox Twilio WhatsApp  id {SANDBOX_TWA_CHANNEL_ID}  sender {SANDBOX_TWA_SENDER}  mps {SANDBOX_TWA_MPS}
             (templates of both synced: GET {base}/v1/channels/{self.wa_channel_id}/templates)

Send a campaign now:
  curl -s -X POST {base}/v1/campaigns \\
    -H 'Authorization: Bearer {self.api_key}' -H 'Content-Type: application/json' \\
    -d '{body}'
Then watch it complete (use the "id" from the answer):
  curl -s {base}/v1/campaigns/<id> -H 'Authorization: Bearer {self.api_key}'
  curl -s '{base}/v1/campaigns/<id>/recipients?status=failed' -H 'Authorization: Bearer {self.api_key}'
Events for the PBX (signed; the pump plays the tenant's EventBridge rule; http only to 127.0.0.1), e.g. to a
receiver of yours on port 8099 (the answer to the first PATCH has the event_secret, once):
  curl -s -X PATCH {base}/v1/tenant -H 'Authorization: Bearer {self.api_key}' \
    -H 'Content-Type: application/json' -d '{{"event_url": "http://127.0.0.1:8099/events"}}'
A reply from a contact, as Twilio would post it:
  curl -s -X POST http://127.0.0.1:{self.sim_port}/sim/inbound -H 'Content-Type: application/json' \\
    -d '{{"from": "+41415084545", "to": "{SANDBOX_SENDER}", "body": "Yes please"}}'
Ctrl-C stops everything.
""",
            flush_marker(),
        )


def flush_marker() -> str:
    """The line tests wait for."""
    return "READY"


def start(port: int, sim_port: int, api_key: str, *, tick_seconds: float = 60.0) -> Stack:
    """Start every part and seed the sandbox tenant and channel."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ.get("LOG_LEVEL", "WARNING"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from devstack import moto_proc

    moto, moto_url = moto_proc.spawn()
    os.environ["AWS_ENDPOINT_URL"] = moto_url

    from devstack.resources import create_resources

    resources = create_resources(None, REPO / "infra" / "template.json")
    os.environ.update(resources.env())
    os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"

    from devstack.twilio_sim import TwilioSimulator

    sim = TwilioSimulator(port=sim_port).start()
    os.environ["TWILIO_API_BASE"] = sim.url
    os.environ["GRAPH_API_BASE"] = f"{sim.url}/graph/v21.0"
    sim.add_account(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)

    config_env = json.loads((REPO / ".chalice" / "config.json").read_text())["environment_variables"]
    for key, value in config_env.items():
        os.environ.setdefault(key, value)

    from chalicelib import config, wiring
    from chalicelib.domain.channels import CreateChannel
    from chalicelib.services import channels, tenants

    config.settings.cache_clear()
    d = wiring.current()
    tenant_id, _ = tenants.create_tenant(d, "Local PBX", api_key=api_key)
    channel = channels.create_channel(
        d,
        tenant_id,
        CreateChannel(
            name="Sandbox SMS",
            type="sms",
            provider="twilio",
            senders=(SANDBOX_SENDER,),
            credentials={"account_sid": SANDBOX_ACCOUNT_SID, "auth_token": SANDBOX_AUTH_TOKEN},
            mps=SANDBOX_MPS,
        ),
        channel_id=SANDBOX_CHANNEL_ID,
    )
    sim.add_number(SANDBOX_SENDER, SANDBOX_ACCOUNT_SID, mps=SANDBOX_MPS, inbound_url=channel["webhooks"]["inbound_url"])
    _seed_twilio_whatsapp(d, sim, tenant_id)
    _seed_whatsapp_cloud(d, tenant_id, sim)
    from chalicelib.services import templates

    for wa_channel in (SANDBOX_WA_CHANNEL_ID, SANDBOX_TWA_CHANNEL_ID):
        templates.sync_templates(d, tenant_id, wa_channel)  # as the PBX would, so campaigns can use them at once

    kills = int(os.environ.get("FAULT_KILL_SENDER_AFTER_ACCEPT") or 0)
    if kills:
        _kill_senders_after_accept(d, kills)

    from devstack import chaos as chaos_faults

    chaos = chaos_faults.from_env()  # after seeding: the faults hit the handlers, not the stack's own set-up
    if chaos is not None:
        wired: Any = d  # the local stack reaches into the clients it wired
        chaos.install(wired.campaigns.table.db, (wired.queue._sqs,))

    import boto3
    from chalice.config import Config

    import app as app_module
    from devstack.api_server import api_server
    from devstack.pump import EventPump

    pump = EventPump(
        app_module,
        boto3.client("sqs"),
        boto3.client("scheduler"),
        schedule_group=resources.scheduler_group,
        timeouts={
            # SEND_WORKER_TIMEOUT_S: a shorter sender timeout, so that a killed sender's hand-overs fall due sooner
            "send_worker": float(os.environ.get("SEND_WORKER_TIMEOUT_S") or 120.0),
            "upload_worker": 900.0,
            "tick": 120.0,
            "start_scheduled": 30.0,
        },
        chaos=chaos,
    )
    stop_pump = pump.start(workers=2, tick_seconds=tick_seconds)
    from devstack import event_rules

    stop_events = event_rules.start(
        event_rules.StreamSource(
            pump.invoke, boto3.client("dynamodbstreams"), boto3.client("sqs"), resources.table_stream_arn
        ),
        event_rules.RuleDelivery(
            boto3.client("events"),
            boto3.client("sqs"),
            resources.event_bus_name,
            secrets=boto3.client("secretsmanager"),
        ),
    )

    # The webhooks go through the `webhooks` function as through its function URL in AWS (WEBHOOK_BASE_URL is the
    # public base here: one port serves both).
    server = api_server(
        app_module.app,
        Config.create(chalice_stage="dev", lambda_timeout=30),
        "127.0.0.1",
        port,
        webhooks=app_module.webhooks,
    )
    server_thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    server_thread.start()

    stop_event = threading.Event()

    def shutdown() -> None:
        stop_event.wait()
        stop_pump.set()
        stop_events.set()
        server.shutdown()
        sim.stop()
        moto.terminate()
        moto.wait(timeout=10)

    threading.Thread(target=shutdown, name="shutdown", daemon=True).start()
    return Stack(port, sim.port, api_key, tenant_id, channel["id"], moto_url, stop_event, chaos=chaos, pump=pump)


# ------------------------------------------------------------------------------------ Sandbox Twilio WhatsApp
SANDBOX_TWA_CHANNEL_ID = "ch_sandbox_twa"
SANDBOX_TWA_SENDER = "+14155238886"  # Twilio's own WhatsApp sandbox number
SANDBOX_TWA_MPS = 80


def _content_sid(name: str) -> str:
    """A fixed ContentSid per sandbox template, so that it stays the same from one start to the next."""
    return "HX" + hashlib.md5(f"sandbox-twa:{name}".encode()).hexdigest()  # noqa: S324 - an id, not a secret


# The sandbox's Content API templates, as the contract lists them (API.md, Local stack).
SANDBOX_TWA_CONTENTS: tuple[dict[str, Any], ...] = (
    {"friendly_name": "hello_world", "language": "en_US", "types": {"twilio/text": {"body": "Hello World"}}},
    {
        "friendly_name": "order_update",
        "language": "en",
        "types": {"twilio/text": {"body": "Hi {{1}}, your order {{2}} has shipped."}},
    },
    {
        "friendly_name": "spring_promo",
        "language": "en",
        "category": "MARKETING",
        "types": {
            "twilio/card": {
                "title": "{{1}}",
                "media": ["https://media.example.test/sandbox/spring_promo.jpg"],
                "actions": [{"type": "QUICK_REPLY", "title": "Stop promotions", "id": "stop_promotions"}],
            }
        },
    },
    {
        "friendly_name": "promo_pending",
        "language": "en",
        "category": "MARKETING",
        "status": "pending",
        "types": {"twilio/text": {"body": "Our new collection is here, {{1}}!"}},
    },
    {
        "friendly_name": "old_offer",
        "language": "en",
        "category": "MARKETING",
        "status": "paused",
        "types": {"twilio/text": {"body": "Last chance: {{1}} off everything."}},
    },
)


def _seed_twilio_whatsapp(d: Any, sim: Any, tenant_id: str) -> dict[str, Any]:
    """Create `Sandbox Twilio WhatsApp` (ch_sandbox_twa) on the sandbox Twilio account: its sender a WhatsApp number
    at the simulator posting inbound to the channel, and the five sandbox templates in the simulator's Content API."""
    from chalicelib.domain.channels import CreateChannel
    from chalicelib.services import channels

    channel = channels.create_channel(
        d,
        tenant_id,
        CreateChannel(
            name="Sandbox Twilio WhatsApp",
            type="whatsapp",
            provider="twilio",
            senders=(SANDBOX_TWA_SENDER,),
            credentials={"account_sid": SANDBOX_ACCOUNT_SID, "auth_token": SANDBOX_AUTH_TOKEN},
            mps=SANDBOX_TWA_MPS,
        ),
        channel_id=SANDBOX_TWA_CHANNEL_ID,
    )
    sim.add_number(
        SANDBOX_TWA_SENDER,
        SANDBOX_ACCOUNT_SID,
        mps=SANDBOX_TWA_MPS,
        inbound_url=channel["webhooks"]["inbound_url"],
        whatsapp=True,
    )
    for spec in SANDBOX_TWA_CONTENTS:
        sim.add_content(SANDBOX_ACCOUNT_SID, {**spec, "sid": _content_sid(spec["friendly_name"])})
    return channel


def _seed_whatsapp_cloud(d: Any, tenant_id: str, sim: Any) -> dict[str, Any]:
    """The `Sandbox WhatsApp` channel (Meta's Cloud API), and the simulator's sandbox WABA posting to its webhook."""
    from chalicelib.domain.channels import CreateChannel
    from chalicelib.services import channels

    channel: dict[str, Any] = channels.create_channel(
        d,
        tenant_id,
        CreateChannel(
            name="Sandbox WhatsApp",
            type="whatsapp",
            provider="whatsapp_cloud",
            senders=(meta_sandbox.SENDER,),
            credentials={
                "access_token": SANDBOX_WA_ACCESS_TOKEN,
                "app_secret": SANDBOX_WA_APP_SECRET,
                "verify_token": SANDBOX_WA_VERIFY_TOKEN,
            },
            mps=meta_sandbox.MPS,
            provider_config={
                "waba_id": meta_sandbox.WABA_ID,
                "phone_number_ids": {meta_sandbox.SENDER: meta_sandbox.PHONE_NUMBER_ID},
            },
        ),
        channel_id=SANDBOX_WA_CHANNEL_ID,
    )
    spec = meta_sandbox.waba_spec(
        SANDBOX_WA_ACCESS_TOKEN, SANDBOX_WA_APP_SECRET, channel["webhooks"]["status_callback_url"]
    )
    sim.meta.add_waba(**spec)
    return channel


def is_outcome_write(params: dict[str, Any]) -> bool:
    """Whether a TransactWriteItems is the sender's outcome write: a recipient move naming the provider's id and
    conditioned on the sender's claim (a status callback's move is not)."""
    return any(
        "provider_message_id" in u.get("ExpressionAttributeNames", {}).values()
        and "claim_token = :token" in u.get("ConditionExpression", "")
        for u in (item.get("Update", {}) for item in params.get("TransactItems", []))
    )


def _kill_senders_after_accept(d: Any, count: int) -> None:
    """A fault for tests of the local stack (FAULT_KILL_SENDER_AFTER_ACCEPT=N): the first N times a sender writes the
    outcomes of messages Twilio accepted, it dies instead (the write raises, as from a process killed there)."""
    left = [count]
    lock = threading.Lock()

    def die(params: dict[str, Any], **_: Any) -> None:
        if not is_outcome_write(params):
            return
        with lock:
            if left[0] <= 0:
                return
            left[0] -= 1
        raise RuntimeError("FAULT_KILL_SENDER_AFTER_ACCEPT: the sender died before writing its outcomes")

    d.campaigns.table.db.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", die)


def main() -> int:
    """Run until Ctrl-C (or SIGTERM)."""
    port = int(os.environ.get("PORT", "8000"))
    sim_port = int(os.environ.get("SIM_PORT", "8001"))
    api_key = os.environ.get("API_KEY", "dev-key")
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    counter: Any = None
    if os.environ.get("AWS_COUNT"):
        # Before any AWS client exists: the benchmark's botocore hooks count what the service asks of AWS.
        from bench.awscount import AwsCounter

        counter = AwsCounter()
        counter.install()
    stack = start(port, sim_port, api_key, tick_seconds=float(os.environ.get("TICK_SECONDS", "60")))
    from devstack import running

    running.announce(port, dict(os.environ))  # so that `make tenant` finds this stack's table
    text, marker = stack.banner()
    print(text, flush=True)
    print(marker, flush=True)
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    done.wait()
    if stack.chaos is not None:
        print("CHAOS " + json.dumps(stack.chaos.summary()), flush=True)  # what was injected (bench/chaos.py reads it)
    if stack.pump is not None:
        print("PUMP " + json.dumps(stack.pump.stats()), flush=True)  # what the functions ran (bench/pacing.py reads it)
        from devstack import api_server as served

        with served.SERVED_LOCK:
            print("SERVED " + json.dumps({"requests": served.SERVED, "seconds": served.SERVED_SECONDS}), flush=True)
    if counter is not None:
        # AWS_COUNT=1: the service's AWS requests by operation, and DynamoDB's capacity units (bench/cost.py).
        print("AWSCOUNT " + json.dumps(counter.report()), flush=True)
    print("stopping…", flush=True)
    running.withdraw(port)
    stack.stop_event.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
