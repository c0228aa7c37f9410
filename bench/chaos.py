"""Benchmark `chaos`: BENCH_CHAOS_RECIPIENTS (10,000) recipients on the local stack while everything fails a little.

A campaign holds at most 1,000 recipients and a tenant sends one campaign at a time, so the audience is split over
BENCH_CHAOS_TENANTS tenants (one per 1,000), each with its own SMS channel and sender number at the simulator, and
their campaigns are created at once. Faults:
- the simulator (POST /sim/config; not built yet: the figures then say the simulator's faults were NOT INJECTED):
  BENCH_CHAOS_SIM, by default 5 % of creates answered 500,
  2 % answered after the client's timeout, 1 % reset after they were accepted, 10 % of status callbacks posted twice;
- the stack's process (devstack/chaos.py, the CHAOS variable): BENCH_CHAOS, by default 5 % of queue deliveries
  duplicated, 2 % of sender invocations killed at a random point, 10 % of TransactWriteItems refused with
  TransactionConflict, 2 % of DynamoDB calls throttled.

Printed: duplicates at the simulator (the same recipient of the same campaign handed over twice), recipients not
final at the end, status reports lost (a message whose last status at the simulator, once its callbacks are done, is
not its recipient's: answered 2xx and not applied, or never applied), counters that disagree with a recount of the
recipients' statuses, and minutes to completed. All but the last must be 0.

Environment: BENCH_CHAOS_RECIPIENTS (10000), BENCH_CHAOS_TENANTS (recipients / 1000, rounded up), BENCH_CHAOS_SEED (1),
BENCH_CHAOS_TIMEOUT_S (5400), BENCH_CHAOS / BENCH_CHAOS_SIM (name=value,... as above), BENCH_CHAOS_MPS (50 per sender);
the stack runs with TICK_SECONDS 15, SETTLE_SECONDS 30, PROVIDER_TIMEOUT_MS 3000 and SEND_WORKER_TIMEOUT_S 60 (a killed
sender's hand-overs fall due once its invocation must have ended) unless they are set.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figures import print_figures  # noqa: E402
from devstack.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_MPS, SANDBOX_SENDER  # noqa: E402
from devstack.stackproc import StackProcess, start_stack  # noqa: E402

CAMPAIGN_MAX = 1000
FINAL = frozenset({"delivered", "read", "undelivered", "failed", "skipped"})
SIM_STATUS_FINAL = frozenset({"delivered", "read", "undelivered", "failed"})
DEFAULT_CHAOS = "duplicate=0.05,kill=0.02,conflict=0.1,throttle=0.02,visibility=10"
DEFAULT_SIM = (
    "server_error_rate=0.05,late_answer_rate=0.02,late_answer_ms=4000,reset_after_accept_rate=0.01,"
    "callback_replay_rate=0.1"
)
STACK_DEFAULTS = {
    "TICK_SECONDS": "15",
    "SETTLE_SECONDS": "30",
    "PROVIDER_TIMEOUT_MS": "3000",
    "SEND_WORKER_TIMEOUT_S": "60",
}
AREAS = ("415", "628", "650", "408", "510", "925", "707", "831", "209", "559")


def number(n: int) -> str:
    """The n-th recipient's number (10,000 per area code)."""
    return f"+1{AREAS[n // 10000]}555{n % 10000:04d}"


def parse_knobs(text: str) -> dict[str, float]:
    """`name=value,...` as numbers."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if part:
            name, _, raw = part.partition("=")
            out[name.strip()] = float(raw)
    return out


@dataclass
class Tenant:
    """One tenant of the run: its key, channel, sender and campaign."""

    api_key: str
    channel_id: str
    sender: str
    numbers: list[str]
    campaign_id: str = ""


def _call(stack: StackProcess, key: str, method: str, path: str, body: Any = None) -> requests.Response:
    """One API call as a tenant, tried again on a 5xx (the run's table throttles and conflicts)."""
    for _ in range(20):
        response = requests.request(
            method, stack.base + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        if response.status_code < 500:
            return response
        time.sleep(0.5)
    return response


def _new_tenant(stack: StackProcess, i: int, numbers: list[str], mps: int) -> Tenant:
    """A tenant (the operator's command, against this stack), its channel and its sender at the simulator."""
    out = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "devstack.admin", "--port", str(stack.port), "create-tenant", "--name", f"chaos {i}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
    )
    fields = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    key = fields["api_key"]
    sender = f"+1209600{i:04d}"
    channel = _call(
        stack,
        key,
        "POST",
        "/v1/channels",
        {
            "name": f"chaos {i}",
            "type": "sms",
            "provider": "twilio",
            "senders": [sender],
            "credentials": {"account_sid": SANDBOX_ACCOUNT_SID, "auth_token": SANDBOX_AUTH_TOKEN},
            "mps": mps,
        },
    )
    channel.raise_for_status()
    body = channel.json()
    requests.post(
        f"{stack.sim}/sim/numbers",
        json={
            "number": sender,
            "account_sid": SANDBOX_ACCOUNT_SID,
            "mps": mps,
            "inbound_url": body["webhooks"]["inbound_url"],
        },
        timeout=10,
    ).raise_for_status()
    return Tenant(key, body["id"], sender, numbers)


def _recipients(stack: StackProcess, tenant: Tenant) -> list[dict[str, Any]]:
    """Every recipient of the tenant's campaign."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        path = f"/v1/campaigns/{tenant.campaign_id}/recipients?limit=200" + (f"&cursor={cursor}" if cursor else "")
        response = _call(stack, tenant.api_key, "GET", path)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return items


def recount(recipients: list[dict[str, Any]]) -> dict[str, int]:
    """A campaign's result figures counted from its recipients' statuses (as Result.from_buckets sums them)."""
    n = Counter(r["status"] for r in recipients)
    return {
        "total": len(recipients),
        "sent": n["sent"] + n["delivered"] + n["read"],
        "delivered": n["delivered"] + n["read"],
        "read": n["read"],
        "failed": n["failed"] + n["undelivered"],
        "pending": n["queued"] + n["sending"],
        "skipped": n["skipped"],
    }


def _campaign_of(message: dict[str, Any]) -> str:
    """The campaign a simulator message was sent for (the `c` our status callback URL carries)."""
    query = parse_qs(urlsplit(message.get("status_callback") or "").query)
    return (query.get("c") or [""])[0]


def run_chaos(
    recipients: int,
    *,
    tenants: int | None = None,
    chaos: str = DEFAULT_CHAOS,
    sim_faults: str = DEFAULT_SIM,
    seed: int = 1,
    mps: int = 50,
    timeout: float = 5400.0,
    progress: bool = False,
    stack_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the chaos campaign(s) and measure them (see the module's docstring)."""
    count = tenants or max(1, math.ceil(recipients / CAMPAIGN_MAX))
    if recipients > count * CAMPAIGN_MAX:
        raise ValueError(f"{recipients} recipients need at least {math.ceil(recipients / CAMPAIGN_MAX)} tenants")
    everyone = [number(n) for n in range(recipients)]
    env = {**STACK_DEFAULTS, **{k: os.environ[k] for k in STACK_DEFAULTS if k in os.environ}}
    env.update(stack_env or {})
    env["CHAOS"] = f"{chaos},seed={seed}"
    stack = start_stack(api_key="chaos-key-0", extra_env=env, timeout=120)
    summary: dict[str, Any] = {}
    try:
        share = [everyone[i::count] for i in range(count)]
        parties = [Tenant(stack.api_key, stack.channel_id, SANDBOX_SENDER, share[0])]
        if mps != SANDBOX_MPS:
            _call(stack, stack.api_key, "PATCH", f"/v1/channels/{stack.channel_id}", {"mps": mps}).raise_for_status()
            requests.post(
                f"{stack.sim}/sim/numbers",
                json={"number": SANDBOX_SENDER, "account_sid": SANDBOX_ACCOUNT_SID, "mps": mps},
                timeout=10,
            ).raise_for_status()
        with ThreadPoolExecutor(max_workers=4) as pool:
            parties += list(pool.map(lambda i: _new_tenant(stack, i, share[i], mps), range(1, count)))
        sim_injected = "none asked"
        if sim_faults.strip():
            knobs: dict[str, Any] = {**parse_knobs(sim_faults), "seed": seed}
            answer = requests.post(f"{stack.sim}/sim/config", json=knobs, timeout=10)
            if answer.status_code == 404:
                # This simulator has no fault knobs yet: say so in the figures rather than claim they were injected.
                sim_injected = "NOT INJECTED: the simulator has no POST /sim/config yet"
            else:
                answer.raise_for_status()
                sim_injected = sim_faults

        t0 = time.time()

        def create(tenant: Tenant) -> None:
            response = _call(
                stack,
                tenant.api_key,
                "POST",
                "/v1/campaigns",
                {
                    "name": "chaos",
                    "channel_id": tenant.channel_id,
                    "sender": tenant.sender,
                    "recipients": {"numbers": tenant.numbers},
                    "content": {"type": "text", "text": "Chaos 🐒"},
                    "send_time": {"type": "now"},
                    "send_mode": "direct",
                },
            )
            response.raise_for_status()
            tenant.campaign_id = response.json()["id"]

        with ThreadPoolExecutor(max_workers=len(parties)) as pool:
            list(pool.map(create, parties))
        done: dict[str, float] = {}
        last_progress = time.time()
        while len(done) < len(parties) and time.time() - t0 < timeout:
            time.sleep(2.0)
            for tenant in parties:
                if tenant.campaign_id in done:
                    continue
                answer = _call(stack, tenant.api_key, "GET", f"/v1/campaigns/{tenant.campaign_id}")
                if answer.status_code == 200 and answer.json()["status"] == "completed":
                    done[tenant.campaign_id] = time.time() - t0
            if progress and time.time() - last_progress > 60:
                last_progress = time.time()
                stats = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()
                print(
                    f"  ... {time.time() - t0:6.0f} s: {len(done)}/{len(parties)} completed, "
                    f"{stats.get('accepted')} accepted at the simulator",
                    file=sys.stderr,
                    flush=True,
                )
        t_end = time.time()
        # Let the simulator finish its callbacks (and their retries), so its last word on each message is known.
        deadline = time.time() + 120
        while time.time() < deadline:
            if requests.get(f"{stack.sim}/sim/stats", timeout=10).json().get("callbacks_pending", 0) == 0:
                break
            time.sleep(1.0)
        time.sleep(2.0)
        stats = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()
        messages = requests.get(f"{stack.sim}/sim/messages", timeout=60).json()
        messages = messages.get("items", messages) if isinstance(messages, dict) else messages

        handed: Counter[tuple[str, str]] = Counter()
        last_status: dict[tuple[str, str], str] = {}
        for m in messages:
            key = (_campaign_of(m), m["to"])
            handed[key] += 1
            last_status[key] = m["status"]
        statuses: dict[tuple[str, str], str] = {}
        counters_off = 0
        for tenant in parties:
            listed = _recipients(stack, tenant)
            for r in listed:
                statuses[(tenant.campaign_id, r["number"])] = r["status"]
            answer = _call(stack, tenant.api_key, "GET", f"/v1/campaigns/{tenant.campaign_id}").json()
            counted = recount(listed)
            counters_off += sum(abs(int(answer["result"].get(k, 0)) - v) for k, v in counted.items())
        lost = 0
        for key, sim_status in last_status.items():
            ours = statuses.get(key)
            if (
                sim_status in SIM_STATUS_FINAL
                and ours != sim_status
                and not (sim_status == "delivered" and ours == "read")
            ):
                lost += 1
        summary = {
            "recipients": recipients,
            "tenants": len(parties),
            "duplicates_at_simulator": sum(c - 1 for c in handed.values() if c > 1),
            "recipients_not_final": sum(1 for s in statuses.values() if s not in FINAL) + (recipients - len(statuses)),
            "status_reports_lost": lost,
            "counters_disagreeing": counters_off,
            "campaigns_completed": len(done),
            "minutes_to_completed": (max(done.values()) if len(done) == len(parties) else t_end - t0) / 60.0,
            "sim_accepted": int(stats.get("accepted", 0)),
            "sim_duplicates_stat": int(stats.get("duplicates", 0)),
            # What the simulator says it injected (server_errors, late_answers, resets, replays), beside what was asked.
            "sim_injected": dict(stats.get("injected") or {}),
            "by_status": dict(Counter(statuses.values())),
            "simulator_faults": sim_injected,
        }
    finally:
        stack.stop()
        for line in stack.output:
            if line.startswith("CHAOS "):
                summary["injected"] = json.loads(line[len("CHAOS ") :])
        summary["_output"] = stack.output
    return summary


def main() -> int:
    """Run it with the environment's figures and print them."""
    recipients = int(os.environ.get("BENCH_CHAOS_RECIPIENTS", "10000"))
    tenants = int(os.environ["BENCH_CHAOS_TENANTS"]) if os.environ.get("BENCH_CHAOS_TENANTS") else None
    figures = run_chaos(
        recipients,
        tenants=tenants,
        chaos=os.environ.get("BENCH_CHAOS", DEFAULT_CHAOS),
        sim_faults=os.environ.get("BENCH_CHAOS_SIM", DEFAULT_SIM),
        seed=int(os.environ.get("BENCH_CHAOS_SEED", "1")),
        mps=int(os.environ.get("BENCH_CHAOS_MPS", "50")),
        timeout=float(os.environ.get("BENCH_CHAOS_TIMEOUT_S", "5400")),
        progress=True,
    )
    figures.pop("_output", None)
    injected = figures.pop("injected", {})
    print_figures(
        f"benchmark: chaos, {recipients:,} recipients over {figures.get('tenants')} tenants on the local stack",
        {**figures, "injected": {k: v for k, v in injected.items() if k != "config"}},
        width=26,
        note="  all but minutes_to_completed must be 0 (duplicates, not final, reports lost, counters disagreeing)",
    )
    bad = any(
        figures.get(k)
        for k in ("duplicates_at_simulator", "recipients_not_final", "status_reports_lost", "counters_disagreeing")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
