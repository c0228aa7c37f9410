"""Benchmark: a campaign to a contact CSV of BENCH_RECIPIENTS (100,000) numbers on the local stack, in this process.

The stack is started IN this process with `devstack.stack.start` (what `make run` runs): moto in its own
process, the resources of infra/template.json, the Twilio simulator, Chalice's local server in a thread and the event
pump (SQS trigger, schedules, minute tick). So every AWS request the API, the upload worker, the send worker and the
webhooks make is made here, and `bench.awscount` counts them with botocore's `before-call` / `before-send` events
(hooked into every botocore session created after start-up, see there). The benchmark's own progress polling reads
the table directly with the counting paused, so it is not counted.

Limits are raised for the run: MAX_RECIPIENTS_PER_CAMPAIGN = max(recipients, 1000); INLINE_DISPATCH_MAX =
BENCH_INLINE_DISPATCH_MAX (100), so the audience is written by the dispatch job on the queue, not in the request.
The sandbox channel's mps is PATCHed to BENCH_MPS (1000), and the simulator's number gets the same limit.

Steps, timed from the moment before each: POST /v1/uploads (JSON), PUT of the file to the presigned URL, the S3
event through the upload queue to the upload worker, upload `ready`; POST /v1/campaigns with the upload, the first
message at the simulator, `completed`; then until the simulator has posted every status callback.

moto: exactly as `make run` runs it, with devstack/moto_speed.py's patches (among them the fix for moto's
SQS long poll spinning on a FIFO queue whose only visible messages are in a busy group).

Environment: BENCH_RECIPIENTS (100000), BENCH_MPS (1000), BENCH_INLINE_DISPATCH_MAX (100), CHUNK_SIZE (100),
BENCH_TIMEOUT_S (14400), BENCH_PROGRESS_S (60: a progress line on stderr every so often), TICK_SECONDS (60),
BENCH_CALLBACKS (1; 0: the simulator posts no status callbacks), BENCH_SEND_BUDGET_S (none): stop waiting this
many seconds after the create request and report what was reached (final_status `partial`; rates and requests
are then per message accepted so far, to extrapolate from).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.awscount import AwsCounter, by_service, code_fingerprint, diff, only  # noqa: E402
from bench.contacts import write_csv  # noqa: E402
from bench.csv_import import proc_cpu_s, upload_state  # noqa: E402
from bench.figures import print_figures  # noqa: E402

FINAL = ("completed", "stopped")


def _moto_pid() -> int | None:
    """The moto child process the stack spawned (python -m devstack.moto_proc)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if ppid == me and (b"devstack.moto_proc" in cmdline):
            return int(entry)
    return None


def _stop(stack: Any) -> None:
    """Stop the stack (pump, API server, simulator, moto) and wait for its shutdown thread."""
    stack.stop_event.set()
    for thread in threading.enumerate():
        if thread.name == "shutdown":
            thread.join(timeout=120)


def bench_campaign_csv(recipients: int | None = None) -> dict[str, Any]:
    """Run one campaign to an uploaded CSV on the in-process stack; returns the figures."""
    n = int(recipients if recipients is not None else os.environ.get("BENCH_RECIPIENTS", "100000"))
    mps = float(os.environ.get("BENCH_MPS", "1000"))
    timeout = float(os.environ.get("BENCH_TIMEOUT_S", "14400"))
    budget = float(os.environ.get("BENCH_SEND_BUDGET_S", "0") or 0)
    progress_every = float(os.environ.get("BENCH_PROGRESS_S", "60"))
    os.environ["MAX_RECIPIENTS_PER_CAMPAIGN"] = str(max(n, 1000))
    os.environ["INLINE_DISPATCH_MAX"] = os.environ.get("BENCH_INLINE_DISPATCH_MAX", "100")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.chdir(REPO)
    import chalice.local

    chalice.local.ChaliceRequestHandler.log_message = lambda *args, **kwargs: None

    counter = AwsCounter()
    counter.install()

    from devstack import moto_proc
    from devstack import stack as stack_module
    from devstack.stackproc import free_port

    spawn = moto_proc.spawn

    def spawn_moto() -> tuple[Any, str]:
        proc, url = spawn()
        terminate = proc.terminate

        def terminate_after_pump() -> None:
            # The stack's shutdown stops the pump and kills moto at once; let the pump's last long poll end first,
            # so it does not log a connection error.
            for thread in threading.enumerate():
                if thread.name.startswith("pump-"):
                    thread.join(timeout=5)
            t = time.monotonic()
            terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if time.monotonic() - t > 5:
                print(f"  (moto took {time.monotonic() - t:.1f}s to exit)", file=sys.stderr)

        proc.terminate = terminate_after_pump  # type: ignore[method-assign]
        return proc, url

    moto_proc.spawn = spawn_moto  # type: ignore[assignment]  # stack.start looks it up (and calls it bare)

    api_key = "bench-key"
    code = code_fingerprint(REPO)  # the code on disk as the stack starts (it imports the app)
    load_start = os.getloadavg()[0]
    t_start = time.perf_counter()
    stack = stack_module.start(
        free_port(), free_port(), api_key, tick_seconds=float(os.environ.get("TICK_SECONDS", "60"))
    )
    startup_s = time.perf_counter() - t_start
    try:
        from chalicelib import wiring

        d = wiring.current()
        base = f"http://127.0.0.1:{stack.port}"
        sim = f"http://127.0.0.1:{stack.sim_port}"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {api_key}"
        moto_pid = _moto_pid()

        channel = http.patch(f"{base}/v1/channels/{stack.channel_id}", json={"mps": mps}, timeout=30)
        channel.raise_for_status()
        requests.post(
            f"{sim}/sim/numbers",
            json={
                "number": stack_module.SANDBOX_SENDER,
                "account_sid": stack_module.SANDBOX_ACCOUNT_SID,
                "mps": mps,
                "inbound_url": (channel.json().get("webhooks") or {}).get("inbound_url"),
            },
            timeout=10,
        ).raise_for_status()
        # BENCH_CALLBACKS=0: the simulator posts no status callbacks, so the figures are the send path's alone.
        callbacks = os.environ.get("BENCH_CALLBACKS", "1") != "0"
        sim_config = {"latency_ms": 0, "no_callbacks": not callbacks}
        requests.post(f"{sim}/sim/config", json=sim_config, timeout=10).raise_for_status()

        with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
            path = Path(tmp) / "audience.csv"
            rows, size = write_csv(path, rows=n)

            # ---------------------------------------------------------------- import
            calls0, sends0 = counter.snapshot()
            cpu0, moto0 = time.process_time(), proc_cpu_s(moto_pid) if moto_pid else 0.0
            t0 = time.time()
            announced = http.post(
                f"{base}/v1/uploads",
                json={"kind": "contacts_csv", "filename": "audience.csv", "content_type": "text/csv", "size": size},
                timeout=30,
            )
            announced.raise_for_status()
            upload = announced.json()
            with path.open("rb") as body:
                requests.put(
                    upload["upload_url"], data=body, headers=upload["upload_headers"], timeout=600
                ).raise_for_status()
            t_put = time.time()
            tenant_id = stack.tenant_id
            state: dict[str, Any] = {}
            while time.time() - t0 < timeout:
                with counter.paused():
                    state = upload_state(d, tenant_id, upload["id"])
                if state.get("status") != "processing":
                    break
                time.sleep(0.1)
            t_ready = time.time()
            if state.get("status") != "ready":
                raise RuntimeError(f"upload not ready: {state.get('status')} {state.get('error')}")
            calls1, sends1 = counter.snapshot()
            cpu1, moto1 = time.process_time(), proc_cpu_s(moto_pid) if moto_pid else 0.0

        # ---------------------------------------------------------------- campaign
        t_create = time.time()
        created = http.post(
            f"{base}/v1/campaigns",
            json={
                "name": "bench csv",
                "channel_id": stack.channel_id,
                "sender": stack_module.SANDBOX_SENDER,
                "recipients": {"upload_id": upload["id"]},
                "content": {"type": "text", "text": "Bench 🚀"},
                "send_time": {"type": "now"},
                "send_mode": "direct",
            },
            timeout=60,
        )
        t_created = time.time()
        if created.status_code != 201:
            raise RuntimeError(f"create answered {created.status_code}: {created.text[:2000]}")
        campaign_id = created.json()["id"]
        status, t_dispatched = "", None
        next_progress = time.time() + progress_every
        campaign: dict[str, Any] = {}
        while time.time() - t_create < timeout:
            with counter.paused():
                found = d.campaigns.get(tenant_id, campaign_id)
                campaign = dataclasses.asdict(found) if found else {}
            status = str(campaign.get("status", ""))
            if t_dispatched is None and campaign.get("dispatched_gen") is not None:
                t_dispatched = time.time()
            if status in FINAL:
                break
            if budget and time.time() - t_create > budget:
                status = "partial"
                logging.getLogger("pump").setLevel(logging.CRITICAL)  # the stop interrupts a chunk mid-send
                break
            if time.time() >= next_progress:
                stats = requests.get(f"{sim}/sim/stats", timeout=10).json()
                elapsed = time.time() - t_create
                print(
                    f"  [progress] {elapsed:7.0f}s status={status} dispatched={t_dispatched is not None} "
                    f"accepted={stats['accepted']}/{n} throttled={stats['throttled']} "
                    f"callbacks={stats['callbacks_posted']} aws_calls={sum(counter.snapshot()[0].values())}",
                    file=sys.stderr,
                    flush=True,
                )
                next_progress += progress_every
            time.sleep(0.5)
        t_done = time.time()
        calls2, sends2 = counter.snapshot()
        stats = requests.get(f"{sim}/sim/stats", timeout=10).json()
        # The status callbacks lag the sends (tens of thousands behind at 100k): wait for them while they still move.
        moved_at, posted = time.time(), stats["callbacks_posted"]
        while stats["callbacks_pending"] and status != "partial" and time.time() - moved_at < 120:
            time.sleep(0.5)
            stats = requests.get(f"{sim}/sim/stats", timeout=10).json()
            if stats["callbacks_posted"] != posted:
                moved_at, posted = time.time(), stats["callbacks_posted"]
        time.sleep(1.0)  # the last callback's handler finishes after the simulator counts it posted
        t_settled = time.time()
        calls3, sends3 = counter.snapshot()
        cpu3, moto3 = time.process_time(), proc_cpu_s(moto_pid) if moto_pid else 0.0
        result = http.get(f"{base}/v1/campaigns/{campaign_id}", timeout=30).json()  # after the last snapshot

        import_calls = diff(calls1, calls0)
        campaign_calls = diff(calls3, calls2) + diff(calls2, calls1)
        first = stats["first_accepted_at"]
        last = stats["last_accepted_at"]
        # Per recipient; for a partial run, per message accepted so far.
        per = n if status != "partial" else max(int(stats["accepted"]), 1)
        queue = (stats.get("senders") or {}).get(stack_module.SANDBOX_SENDER) or {}
        figures: dict[str, Any] = {
            "recipients": n,
            "code": code,
            "moto": "moto_speed",
            "loadavg_1m_start": load_start,
            "loadavg_1m_end": os.getloadavg()[0],
            "csv_mib": size / (1024 * 1024),
            "final_status": status,
            "result": dict(result.get("result") or {}),
            "startup_s": startup_s,
            "import_put_s": t_put - t0,
            "import_ready_s": t_ready - t0,
            "create_request_s": t_created - t_create,
            "to_dispatched_s": (t_dispatched - t_create) if t_dispatched else float("nan"),
            "to_first_message_s": (first - t_create) if first else float("nan"),
            ("to_completed_s" if status != "partial" else "stopped_waiting_at_s"): t_done - t_create,
            "callbacks_settled_s": t_settled - t_create,
            "messages_per_s_overall": stats["accepted"] / max(t_done - t_create, 1e-9),
            "messages_per_s_sending": (stats["accepted"] - 1) / max((last or 0) - (first or 0), 1e-9),
            "accepted": stats["accepted"],
            "throttled_429": stats["throttled"],
            # The sender's queue at the simulator (Twilio queues a sender's excess rather than refusing it).
            "sim_sender_achieved_mps": float(queue.get("achieved_mps") or "nan"),
            "sim_longest_queue_wait_s": float(queue.get("longest_queue_wait_s") or 0.0),
            "callbacks_posted": stats["callbacks_posted"],
            "callbacks_failed": stats["callbacks_failed"],
            "callbacks_pending_at_end": stats["callbacks_pending"],
            "cpu_s_import_app": cpu1 - cpu0,
            "cpu_s_import_moto": moto1 - moto0,
            "cpu_s_campaign_app": cpu3 - cpu1,
            "cpu_s_campaign_moto": moto3 - moto1,
            "import_calls_per_recipient": _per(by_service(import_calls), n),
            "campaign_calls_per_recipient": _per(by_service(campaign_calls), per),
            "total_calls_per_recipient": _per(by_service(import_calls + campaign_calls), per),
            "http_sends_per_recipient": round(sum(only(diff(sends3, sends0), "service").values()) / per, 3),
            "campaign_calls_by_operation": _per(only(campaign_calls, "service"), per),
            "harness_calls_per_recipient": _per(only(import_calls + campaign_calls, "harness"), per),
            "calls_after_completed": sum(only(diff(calls3, calls2), "service").values()),
        }
        return figures
    finally:
        _stop(stack)


def _per(counts: Counter[str], n: int) -> dict[str, float]:
    return {k: round(v / n, 3) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def report(figures: dict[str, Any]) -> None:
    """Print the figures."""
    print_figures(
        f"benchmark: {figures['recipients']:,}-recipient campaign from an uploaded CSV, local stack in-process "
        "(moto in its own process)",
        figures,
        width=30,
        note="  (seconds from the request that starts each phase; *_calls_per_recipient: botocore API calls made by "
        "the service (API, workers, webhooks, tick) per recipient, counted with before-call; http_sends includes "
        "retries;\n   harness_calls: the event pump's own SQS polling and schedule listing, which stand in for the "
        "Lambda trigger and EventBridge Scheduler)",
    )


def main() -> int:
    """Run the benchmark and print its figures."""
    report(bench_campaign_csv())
    return 0


if __name__ == "__main__":
    sys.exit(main())
