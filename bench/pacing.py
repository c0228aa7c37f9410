"""Benchmark `pacing`: does a sender hand its number's rate to the provider, no more, and without paying for idle time?

On the local stack (as `make run` serves it, in a child process), for each rate in BENCH_PACING_MPS (1, 5, 50 by
default) the sandbox channel and its number at the simulator are set to that rate, and one campaign of
BENCH_PACING_RECIPIENTS (rate x 30 s of sending, 20 to 150) is sent; then, at 5 mps, two campaigns of two tenants
on channels that share one number (their rates must add up to the number's, not twice it).

Printed per run: the rate the simulator's queue sent at (Twilio's model: it queues what it is given and sends at the
number's mps), that rate as a share of mps, the longest wait in the simulator's queue (the lead handed over ahead of
time, bounded by the sender), refusals (20429 / 21611), the send worker's invocations and hand-backs, and the send
worker's seconds per 1,000 messages (wall seconds inside the function, as Lambda would bill them; moto makes each
of its calls slower than DynamoDB's, so read them against each other, not as AWS's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figures import print_figures  # noqa: E402
from devstack.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_SENDER  # noqa: E402
from devstack.stackproc import StackProcess, start_stack  # noqa: E402

RATES = tuple(float(r) for r in os.environ.get("BENCH_PACING_MPS", "1,5,50").split(","))
SHARED_MPS = 5.0


def _recipients(mps: float) -> int:
    if os.environ.get("BENCH_PACING_RECIPIENTS"):
        return int(os.environ["BENCH_PACING_RECIPIENTS"])
    return int(max(20, min(150, mps * 30)))


def _numbers(block: int, count: int) -> list[str]:
    return [f"+1415{550 + block}{i:04d}" for i in range(count)]


def _set_rate(stack: StackProcess, key: str, channel_id: str, sender: str, mps: float) -> None:
    stack.call("PATCH", f"/v1/channels/{channel_id}", {"mps": mps}, headers={"Authorization": f"Bearer {key}"})
    requests.post(
        f"{stack.sim}/sim/numbers",
        json={"number": sender, "account_sid": SANDBOX_ACCOUNT_SID, "mps": mps},
        timeout=10,
    ).raise_for_status()


def _campaign(stack: StackProcess, key: str, channel_id: str, numbers: list[str]) -> str:
    answer = stack.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "pacing",
            "channel_id": channel_id,
            "sender": SANDBOX_SENDER,
            "recipients": {"numbers": numbers},
            "content": {"type": "text", "text": "Pacing"},
            "send_time": {"type": "now"},
            "send_mode": "direct",
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def _wait_sent(stack: StackProcess, count: int, timeout: float) -> None:
    """Until the simulator has sent `count` from the sandbox number (all through its queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sender = requests.get(f"{stack.sim}/sim/stats", timeout=10).json().get("senders", {}).get(SANDBOX_SENDER, {})
        if int(sender.get("sent", 0)) >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the simulator did not send {count} messages within {timeout:.0f}s")


def _second_tenant(stack: StackProcess) -> tuple[str, str]:
    """Another tenant with its own channel on the sandbox number (a number shared by two tenants' channels)."""
    out = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "devstack.admin", "--port", str(stack.port), "create-tenant", "--name", "pacing 2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
    )
    key = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)["api_key"]
    channel = stack.call(
        "POST",
        "/v1/channels",
        {
            "name": "shared number",
            "type": "sms",
            "provider": "twilio",
            "senders": [SANDBOX_SENDER],
            "credentials": {"account_sid": SANDBOX_ACCOUNT_SID, "auth_token": SANDBOX_AUTH_TOKEN},
            "mps": SHARED_MPS,
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    channel.raise_for_status()
    return key, str(channel.json()["id"])


def _pump_stats(stack: StackProcess) -> dict[str, Any]:
    for line in reversed(stack.output):
        if line.startswith("PUMP "):
            return dict(json.loads(line[5:]))
    return {}


def run_one(mps: float, shared: bool = False) -> dict[str, Any]:
    """One stack, one rate: a campaign (or two tenants' campaigns on one number), and what it cost."""
    stack = start_stack(api_key="pacing-key")
    try:
        key = stack.api_key
        _set_rate(stack, key, stack.channel_id, SANDBOX_SENDER, mps)
        count = _recipients(mps)
        t0 = time.time()
        if shared:
            key2, channel2 = _second_tenant(stack)
            half = count // 2
            _campaign(stack, key, stack.channel_id, _numbers(1, half))
            _campaign(stack, key2, channel2, _numbers(2, count - half))
        else:
            _campaign(stack, key, stack.channel_id, _numbers(1, count))
        _wait_sent(stack, count, timeout=count / mps * 3 + 120)
        elapsed = time.time() - t0
        stats = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()
    finally:
        stack.stop()
    sender = stats.get("senders", {}).get(SANDBOX_SENDER, {})
    pump = _pump_stats(stack)
    achieved = float(sender.get("achieved_mps") or 0.0)
    busy = float(pump.get("busy_seconds", {}).get("send_worker", 0.0))
    return {
        "mps": mps,
        "campaigns": 2 if shared else 1,
        "recipients": count,
        "seconds_to_last_sent": round(elapsed, 1),
        "achieved_mps_at_provider": round(achieved, 3),
        "share_of_mps": round(achieved / mps, 3),
        "longest_queue_wait_s": round(float(sender.get("longest_queue_wait_s") or 0.0), 2),
        "refused_20429": int(stats.get("throttled_concurrency", 0)),
        "refused_21611": int(stats.get("queue_full_21611", 0)),
        "send_worker_invocations": int(pump.get("invocations", {}).get("send_worker", 0)),
        "handed_back": int(pump.get("handed_back", 0)),
        "send_worker_seconds_per_1000": round(busy / count * 1000, 1),
    }


def bench_pacing() -> list[dict[str, Any]]:
    """Every rate, then the shared number; prints each as it comes."""
    results = []
    for mps in RATES:
        figures = run_one(mps)
        print_figures(f"pacing at {mps:g} mps", figures, width=32)
        results.append(figures)
    figures = run_one(SHARED_MPS, shared=True)
    print_figures(f"pacing: two tenants' campaigns on one {SHARED_MPS:g}-mps number", figures, width=32)
    results.append(figures)
    return results


if __name__ == "__main__":
    bench_pacing()
