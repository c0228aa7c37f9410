"""`make bench`: figures, never assertions.

Parts (BENCH_ONLY picks one, comma-separated for several; all by default, in this order):

- `csv`: import a ~50 MB contact CSV through `uploads.process_upload` against moto S3 (bench/csv_import.py;
  BENCH_CSV_MB shrinks the file).
- `campaign1k`: a 1,000-recipient campaign (typed numbers) on the local stack as `make run` serves it, in a child
  process; seconds from "send now" to the first message at the simulator and to `completed`, and the send rate.
- `firstmsg`: seconds from "send now" to the first chunk on the queue at 10, 1,000 and 100,000 recipients, on the
  service layer with fakes (bench/firstmsg.py).
- `pacing`: one campaign per rate in BENCH_PACING_MPS (1, 5, 50) and two tenants' campaigns on one 5-mps number, on
  the local stack (bench/pacing.py): the rate the simulator's Twilio queue sent at and its share of mps, the longest
  wait in that queue (the lead), refusals, and the send worker's invocations, hand-backs and seconds per 1,000.
- `cost`: dollars per 1,000 messages for an SMS sender at 1 mps and a WhatsApp sender at 80 mps (bench/cost.py):
  the service's AWS requests and DynamoDB units per message and the functions' seconds, counted on the local stack,
  priced at the list prices named there, with the provider webhooks through API Gateway REST, an HTTP API or a
  function URL.
- `wa1k`, `wasender`: WhatsApp (bench/whatsapp.py): a 1,000-recipient Cloud API template campaign on the local stack,
  and the sender alone against the simulated Graph API at 80 and 1,000 mps.
- `campaign100k`: a campaign to an uploaded CSV of BENCH_RECIPIENTS (100,000) numbers on the local stack run in a
  child process of its own, with the AWS requests per recipient counted (bench/campaign_csv.py). On moto this is
  slow (about an hour for 100,000 on two cores): set BENCH_RECIPIENTS=10000 for a quicker figure.
- `chaos`: BENCH_CHAOS_RECIPIENTS (10,000) recipients over tenants of 1,000 on the local stack while the simulator, the
  pump and the table fail a little (bench/chaos.py): duplicates at the simulator, recipients not final, status reports
  lost, counters disagreeing (all must be 0) and minutes to completed. Not in the default run (it takes long): ask for
  it with BENCH_ONLY=chaos.

`csv` and `campaign100k` run in their own processes, so their memory and state do not mix. The local stack runs
moto, whose speed says little about AWS's: compare runs of this benchmark with each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figures import print_figures  # noqa: E402
from devstack.stackproc import start_stack  # noqa: E402

RECIPIENTS = 1000
PARTS = ("csv", "campaign1k", "firstmsg", "pacing", "cost", "wa1k", "wasender", "campaign100k", "chaos")


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


def _child(module: str) -> int:
    """Run a benchmark module in a child process (its output goes straight to ours)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.call([sys.executable, "-m", module], cwd=REPO, env=env)


def main() -> int:
    """Run the benchmarks BENCH_ONLY names (all by default) and print their figures."""
    default = ",".join(p for p in PARTS if p != "chaos")
    wanted = [p.strip() for p in os.environ.get("BENCH_ONLY", default).split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        print(f"BENCH_ONLY: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    failed = 0
    for part in PARTS:
        if part not in wanted:
            continue
        if part == "csv":
            failed += _child("bench.csv_import") != 0
        elif part == "campaign1k":
            print_figures(
                "benchmark: 1,000-recipient SMS campaign on the local stack (sandbox channel, mps 50)",
                bench_campaign(),
                width=22,
            )
        elif part == "wa1k":
            from bench.whatsapp import bench_wa1k

            print_figures(
                "benchmark: 1,000-recipient WhatsApp template campaign, Cloud API, per-contact values (local stack)",
                bench_wa1k(),
                width=22,
            )
        elif part == "wasender":
            from bench.whatsapp import SENDER_RUNS, bench_sender

            for mps, count in SENDER_RUNS:
                print_figures(
                    f"benchmark: the sender alone against the simulated Graph API at {mps} mps (fakes for the rest)",
                    bench_sender(mps, count),
                    width=26,
                )
                if mps >= 1000:
                    # What this machine does at all with the pacer out of the way: the 1,000 figure's ceiling here.
                    print_figures(
                        f"benchmark: the same sender unpaced ({count} recipients): this machine's ceiling",
                        bench_sender(mps, count, pace=False),
                        width=26,
                    )
        elif part == "firstmsg":
            failed += _child("bench.firstmsg") != 0
        elif part == "pacing":
            failed += _child("bench.pacing") != 0
        elif part == "cost":
            failed += _child("bench.cost") != 0
        elif part == "chaos":
            failed += _child("bench.chaos") != 0
        else:
            failed += _child("bench.campaign_csv") != 0
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
