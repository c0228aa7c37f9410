"""`make bench`: figures, never assertions. A 1,000-recipient campaign on the local stack, as `make run` serves it.

Prints seconds from "send now" to the first message at the simulator and to `completed`, and the send rate.
The local stack runs moto, whose speed says little about AWS's: compare runs of this benchmark with each other.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.stackproc import start_stack  # noqa: E402

RECIPIENTS = 1000


def bench_campaign() -> dict[str, float]:
    """Run one 1,000-recipient campaign and time it."""
    stack = start_stack(api_key="bench-key")
    try:
        numbers = [f"+1415555{i:04d}" for i in range(RECIPIENTS)]
        t0 = time.time()
        response = stack.call(
            "POST",
            "/v1/campaigns",
            {
                "name": "bench",
                "channel_id": stack.channel_id,
                "sender": "+15005550006",
                "recipients": {"numbers": numbers},
                "content": {"type": "text", "text": "Bench 🚀"},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
        )
        t_created = time.time()
        response.raise_for_status()
        campaign_id = response.json()["id"]
        status = ""
        while status != "completed" and time.time() - t0 < 1200:
            time.sleep(0.2)
            status = stack.call("GET", f"/v1/campaigns/{campaign_id}").json()["status"]
        t_done = time.time()
        stats = requests.get(f"{stack.sim}/sim/stats", timeout=10).json()
        return {
            "recipients": RECIPIENTS,
            "create_request_s": t_created - t0,
            "to_first_message_s": (stats["first_accepted_at"] or t_done) - t0,
            "to_completed_s": t_done - t0,
            "messages_per_s": stats["accepted"] / max(t_done - t0, 1e-9),
            "throttled_429": stats.get("throttled", 0),
            "status": 1.0 if status == "completed" else 0.0,
        }
    finally:
        stack.stop()


def main() -> int:
    """Run the benchmarks and print their figures."""
    figures = bench_campaign()
    print("benchmark: 1,000-recipient SMS campaign on the local stack (sandbox channel, mps 50)")
    for key, value in figures.items():
        print(f"  {key:22s} {value:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
