"""WhatsApp benchmarks: figures, never assertions (bench/run.py runs them as the parts `wa1k` and `wasender`).

- `wa1k`: a 1,000-recipient Cloud API template campaign (order_update, both values from the CSV's columns, one per
  contact) on the local stack as `make run` serves it, in a child process: seconds from "send now" to the first
  message Meta (the simulator) accepted and to `completed`, the send rate, and how many sends Meta refused as past
  the number's throughput (130429) or the pair rate (131056).
- `wasender`: the sender alone (services/sending.py with the in-memory fakes of tests/fakes/ for every repository,
  the real Cloud API adapter over HTTP) against the simulator's Graph API, at 80 and at 1,000 messages per second
  allowed (the channel's mps and the simulated number's throughput alike): the rate achieved between the first and
  the last message accepted, as a share of the allowed one, and the refusals. The simulator runs in a process of
  its own and answers each send after BENCH_WA_LATENCY_MS (200 by default, about Meta's own), so the sends in
  flight, not the machine's speed, decide whether the rate is held; the chunks' FIFO message groups each get a
  worker thread, as each gets a Lambda. At 1,000 mps it also runs unpaced: this machine's ceiling, beyond which no
  pacer can go here. The campaign's first send waits out the pair gap (Meta's 6 s, plus a second) after it starts;
  that wait is reported apart and not in the rate.

The simulator and moto run on this machine's two cores with everything else: compare runs with each other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECIPIENTS = 1000
SENDER_RUNS = ((80, 1000), (1000, 3000))  # (mps allowed, recipients)
# How long the simulated Graph API takes to answer a send (Meta's own answers take about this long).
SEND_LATENCY_MS = float(os.environ.get("BENCH_WA_LATENCY_MS", "200"))


def _csv(count: int) -> bytes:
    lines = ["Number,first_name,order"]
    lines += [f"+1415555{i:04d},Contact {i},ORD-{i:05d}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def bench_wa1k() -> dict[str, Any]:
    """One 1,000-recipient Cloud API template campaign with per-contact values, on the local stack."""
    from devstack.stackproc import start_stack, wait_for

    stack = start_stack(api_key="bench-key")
    try:
        upload = stack.call(
            "POST", "/v1/uploads?kind=contacts_csv&filename=wa.csv", data=_csv(RECIPIENTS),
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        upload.raise_for_status()
        upload_id = upload.json()["id"]
        wait_for(lambda: stack.call("GET", f"/v1/uploads/{upload_id}").json()["status"] == "ready", 120)
        listed = stack.call("GET", "/v1/channels/ch_sandbox_wa/templates?limit=200").json()["items"]
        template_id = next(t["id"] for t in listed if t["name"] == "order_update")
        variables = {"1": {"column": "first_name"}, "2": {"column": "order"}}
        t0 = time.time()
        created = stack.call(
            "POST",
            "/v1/campaigns",
            {
                "name": "bench wa",
                "channel_id": "ch_sandbox_wa",
                "sender": "+15550100001",
                "recipients": {"upload_id": upload_id},
                "content": {"type": "template", "template_id": template_id, "variables": variables},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
        )
        t_created = time.time()
        created.raise_for_status()
        campaign_id = created.json()["id"]
        status = ""
        while status not in ("completed", "stopped") and time.time() - t0 < 1200:
            time.sleep(0.2)
            status = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()["status"]
        t_done = time.time()
        meta = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()["whatsapp_cloud"]
        first, last = meta["first_accepted_at"] or t_done, meta["last_accepted_at"] or t_done
        return {
            "recipients": RECIPIENTS,
            "create_request_s": t_created - t0,
            "to_first_message_s": first - t0,
            "to_completed_s": t_done - t0,
            "accepted": int(meta["accepted"]),
            "messages_per_s": (meta["accepted"] - 1) / max(last - first, 1e-9),
            "refused_130429": int(meta["throttled_130429"]),
            "refused_131056": int(meta["pair_rate_131056"]),
            "status": status,
        }
    finally:
        stack.stop()


def _simulator_process(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """The provider simulator in a process of its own (as the real Graph API is another machine: the sender's threads
    do not share an interpreter with it), answering each send after `latency_ms`."""
    proc = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "devstack.twilio_sim", "--port", "0", "--log-level", "WARNING"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on (http://\S+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    url = found.group(1)
    requests.post(f"{url}/sim/config", json={"graph_latency_ms": latency_ms}, timeout=10).raise_for_status()
    return proc, url


def bench_sender(mps: int, count: int, latency_ms: float = SEND_LATENCY_MS, pace: bool = True) -> dict[str, Any]:
    """The sender alone at `mps` against the simulated Graph API: achieved rate as a share of `mps`, refusals.

    Each FIFO message group the campaign's chunks went to is a worker of its own (a thread here, a Lambda there),
    taking that group's chunks in order. `pace=False` takes the pacer out of the way (the number's budget as good as
    unlimited, the simulator's throughput too): what this machine can do at all, the ceiling the paced figure is
    to be read against."""
    from chalicelib import wiring
    from chalicelib.domain.channels import Channel
    from chalicelib.domain.commands import CampaignSettings, CreateCampaign, RecipientsSpec, SendNow, TemplateContent
    from chalicelib.domain.model import Clock, IdFactory
    from chalicelib.services import campaigns, lifecycle, sending
    from devstack.meta_sim import sandbox
    from tests.unit.campaign_deps import TENANT, world

    proc, url = _simulator_process(latency_ms)
    try:
        spec = sandbox.waba_spec()  # no webhook URL: the sender alone, no status callbacks
        spec["phone_numbers"] = [{**spec["phone_numbers"][0], "mps": mps if pace else 100 * mps}]
        requests.post(f"{url}/sim/meta/wabas", json=spec, timeout=10).raise_for_status()
        w = world(graph_api_base=f"{url}/graph/v21.0", max_recipients_per_campaign=count, inline_dispatch_max=count)
        clock = Clock()  # real time: the pacer sleeps for real
        w.deps.clock, w.deps.ids = clock, IdFactory(clock=clock.now)
        w.deps.rules_for = wiring.provider_rules
        w.deps.provider_for = lambda channel, creds: wiring.PROVIDERS[channel.provider](channel, creds, w.deps.settings)
        channel = Channel(
            tenant_id=TENANT,
            channel_id="ch_wa",
            name="WhatsApp",
            type="whatsapp",
            provider="whatsapp_cloud",
            senders=(sandbox.SENDER,),
            mps=float(mps if pace else 100 * mps),
            created_at="2026-12-01T08:00:00Z",
            provider_config={"waba_id": sandbox.WABA_ID, "phone_number_ids": {sandbox.SENDER: sandbox.PHONE_NUMBER_ID}},
        )
        w.deps.channels.create(channel)
        w.campaigns.add_channel(TENANT, "ch_wa")
        creds = {"access_token": sandbox.ACCESS_TOKEN, "app_secret": sandbox.APP_SECRET, "verify_token": "v"}
        w.deps.secrets.creds[(TENANT, "ch_wa")] = creds  # type: ignore[attr-defined]
        listed = w.deps.provider_for(channel, creds).templates()
        w.deps.templates.replace_all(TENANT, "ch_wa", listed, "2026-12-01T08:00:00Z")
        order = next(t.id for t in listed if t.name == "order_update")
        numbers = tuple(f"+1415{5550000 + i:07d}" for i in range(count))
        settings = CampaignSettings(
            name="bench",
            channel_id="ch_wa",
            sender=sandbox.SENDER,
            recipients=RecipientsSpec(numbers=numbers),
            content=TemplateContent(template_id=order, variables={"1": "Ada", "2": "A-1"}),
        )

        def worker(chunks: list[Any]) -> None:
            for chunk in chunks:
                # A chunk handed back (its number had no slot for a while) is delivered again then, as SQS would.
                while (back := sending.handle_chunk(w.deps, chunk, lambda: 600.0)) is not None:
                    time.sleep(back)

        t0 = time.time()
        campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
        groups = 0
        while w.queue.chunks or w.queue.jobs:
            for job in w.queue.take_jobs():
                lifecycle.run_job(w.deps, job)
            by_group = w.queue.take_by_group()
            groups = max(groups, len(by_group))
            threads = [threading.Thread(target=worker, args=(chunks,)) for chunks in by_group.values()]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        t_done = time.time()
        meta = requests.get(f"{url}/sim/stats", timeout=10).json()["whatsapp_cloud"]
        first, last = meta["first_accepted_at"] or t_done, meta["last_accepted_at"] or t_done
        rate = (meta["accepted"] - 1) / max(last - first, 1e-9)
        return {
            "allowed_mps": mps if pace else "unpaced (ceiling)",
            "recipients": count,
            "send_latency_ms": latency_ms,
            "message_groups": groups,
            "sends_in_flight_per_worker": sending.parallelism(mps * (1 if pace else 100)),
            "accepted": int(meta["accepted"]),
            "pair_gap_wait_s": first - t0,
            "achieved_mps": rate,
            "share_of_allowed": rate / mps,
            "refused_130429": int(meta["throttled_130429"]),
            "refused_131056": int(meta["pair_rate_131056"]),
            "total_s": t_done - t0,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
