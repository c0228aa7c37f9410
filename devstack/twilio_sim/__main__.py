"""`python -m devstack.twilio_sim --port 8001`: the simulator alone, with accounts and numbers from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Sequence

from devstack.meta_sim import sandbox
from devstack.twilio_sim.server import TwilioSimulator


def _parse_number(spec: str) -> tuple[str, str, float, str | None]:
    parts = spec.split(",", 3)
    if len(parts) < 2:
        raise argparse.ArgumentTypeError("expected NUMBER,ACCOUNT_SID[,MPS[,INBOUND_URL]]")
    mps = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
    return parts[0], parts[1], mps, (parts[3] if len(parts) > 3 and parts[3] else None)


def _parse_account(spec: str) -> tuple[str, str]:
    sid, sep, token = spec.partition(":")
    if not sep or not sid or not token:
        raise argparse.ArgumentTypeError("expected ACCOUNT_SID:AUTH_TOKEN")
    return sid, token


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Local simulator of Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT") or 8001))
    parser.add_argument("--callback-delay", type=float, default=0.05, help="seconds between status callbacks")
    parser.add_argument("--workers", type=int, default=4, help="status-callback worker threads")
    parser.add_argument("--account", action="append", type=_parse_account, default=[], metavar="SID:TOKEN")
    parser.add_argument(
        "--number", action="append", type=_parse_number, default=[], metavar="NUMBER,ACCOUNT_SID[,MPS[,INBOUND_URL]]"
    )
    parser.add_argument(
        "--meta-sandbox",
        metavar="WEBHOOK_URL",
        help="also serve Meta's sandbox WABA (devstack/meta_sim/sandbox.py) under /graph/, posting to WEBHOOK_URL",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sim = TwilioSimulator(args.host, args.port, callback_delay=args.callback_delay, workers=args.workers)
    for sid, token in args.account:
        sim.add_account(sid, token)
    for number, sid, mps, inbound_url in args.number:
        sim.add_number(number, sid, mps, inbound_url)
    if args.meta_sandbox:
        sim.meta.add_waba(**sandbox.waba_spec(webhook_url=args.meta_sandbox))
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    sim.start()
    print(f"Twilio simulator listening on {sim.url} (Meta's Graph API under {sim.url}/graph/)", flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
