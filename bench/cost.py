"""Benchmark `cost`: dollars per 1,000 messages, from what the service asks of AWS on the local stack.

Two senders, each on a local stack of its own (a child process, `AWS_COUNT=1`: bench/awscount.py's botocore hooks
count the service's AWS requests by operation, with DynamoDB's capacity units estimated from each call's
parameters): an SMS number at 1 mps (Twilio, BENCH_COST_SMS recipients, 30) and a WhatsApp Cloud API number at 80
mps (BENCH_COST_WA recipients, 400, template hello_world). The pump reports each function's invocations and seconds
(what Lambda would bill), the local API server the webhook requests and their seconds.

Priced at the on-demand list prices below (us-east-1, as published on the AWS pricing pages; read 2025-06), per
1,000 messages with two status webhooks each (the measured seconds per webhook, scaled to two per message), with
the provider webhooks coming in three ways: API Gateway REST (what the deployment has), an HTTP API, a Lambda
function URL. moto is slower than AWS, so Lambda seconds here are an upper bound; the requests and units are what
the code asks for and carry over.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figures import print_figures  # noqa: E402
from devstack.stack import SANDBOX_ACCOUNT_SID, SANDBOX_SENDER  # noqa: E402
from devstack.stackproc import StackProcess, start_stack  # noqa: E402

# On-demand list prices, us-east-1, read from the AWS pricing pages in 2025-06 (dollars).
PRICES_DATE = "2025-06"
PRICE = {
    "lambda_gb_second": 0.0000166667,  # x86
    "lambda_request": 0.20 / 1e6,
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "sqs_fifo_request": 0.50 / 1e6,
    "sqs_standard_request": 0.40 / 1e6,
    "secrets_api_call": 0.05 / 1e4,
    "eventbridge_event": 1.00 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,
    "apigw_http_request": 1.00 / 1e6,
    "function_url_request": 0.0,  # a function URL costs only its Lambda
}
# Memory of each function (.chalice/config.json): GB-seconds = seconds x this / 1024.
MEMORY_MB = {"send_worker": 512, "api_handler": 128, "tick": 128, "events_worker": 256, "upload_worker": 1024}
WEBHOOKS_PER_MESSAGE = 2


def _last(stack: StackProcess, tag: str) -> dict[str, Any]:
    for line in reversed(stack.output):
        if line.startswith(tag + " "):
            return dict(json.loads(line[len(tag) + 1 :]))
    return {}


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the campaign did not finish in time")
        time.sleep(0.5)


def _run(kind: str, count: int) -> dict[str, Any]:
    """One campaign on a counted stack; what it asked of AWS and what the functions ran."""
    stack = start_stack(api_key="cost-key", extra_env={"AWS_COUNT": "1", "LOG_LEVEL": "WARNING"})
    try:
        if kind == "sms":
            stack.call("PATCH", f"/v1/channels/{stack.channel_id}", {"mps": 1}).raise_for_status()
            requests.post(
                f"{stack.sim}/sim/numbers",
                json={"number": SANDBOX_SENDER, "account_sid": SANDBOX_ACCOUNT_SID, "mps": 1},
                timeout=10,
            ).raise_for_status()
            body: dict[str, Any] = {
                "channel_id": stack.channel_id,
                "sender": SANDBOX_SENDER,
                "content": {"type": "text", "text": "Cost"},
            }
        else:
            stack.call("PATCH", "/v1/channels/ch_sandbox_wa", {"mps": 80}).raise_for_status()
            listed = stack.call("GET", "/v1/channels/ch_sandbox_wa/templates?limit=200").json()["items"]
            hello = next(t["id"] for t in listed if t["name"] == "hello_world")
            body = {
                "channel_id": "ch_sandbox_wa",
                "sender": "+15550100001",
                "content": {"type": "template", "template_id": hello},
            }
        numbers = [f"+1415{600 + i // 10000}{i % 10000:04d}" for i in range(count)]
        created = stack.call(
            "POST",
            "/v1/campaigns",
            {
                "name": f"cost {kind}",
                "recipients": {"numbers": numbers},
                "send_time": {"type": "now"},
                "send_mode": "direct",
                **body,
            },
        )
        created.raise_for_status()
        cid = created.json()["id"]

        def finished() -> bool:
            got = stack.call("GET", f"/v1/campaigns/{cid}").json()
            result = got["result"]
            return bool(got["status"] == "completed" and result["delivered"] + result["failed"] >= result["total"])

        _wait(finished, count * (1.5 if kind == "sms" else 0.1) + 120)
        time.sleep(3)  # the last read receipts (WhatsApp) and ticks
    finally:
        stack.stop()
    return {
        "messages": count,
        "aws": _last(stack, "AWSCOUNT"),
        "pump": _last(stack, "PUMP"),
        "served": _last(stack, "SERVED"),
    }


def price(run: dict[str, Any]) -> dict[str, Any]:
    """Dollars per 1,000 messages by service, and the webhook ways in compared."""
    n = run["messages"]
    per = 1000.0 / n
    calls: dict[str, int] = run["aws"].get("calls", {})
    units: dict[str, float] = run["aws"].get("units", {})
    pump, served = run["pump"], run["served"]
    by_service: dict[str, int] = {}
    for op, count in calls.items():
        service = op.split(".", 1)[0]
        by_service[service] = by_service.get(service, 0) + count
    webhooks = int(served.get("requests", {}).get("webhooks", 0))
    webhook_seconds = float(served.get("seconds", {}).get("webhooks", 0.0))
    per_webhook_s = webhook_seconds / webhooks if webhooks else 0.0
    lambda_gb_s: dict[str, float] = {}
    lambda_requests = 0.0
    for function, seconds in pump.get("busy_seconds", {}).items():
        if function == "tick":
            continue  # once a minute whatever is sent: not a cost per message
        lambda_gb_s[function] = seconds * MEMORY_MB.get(function, 128) / 1024 * per
        lambda_requests += pump.get("invocations", {}).get(function, 0) * per
    # The webhooks, two per message, each as long as the measured mean.
    lambda_gb_s["api_handler (webhooks)"] = (
        WEBHOOKS_PER_MESSAGE * 1000 * per_webhook_s * MEMORY_MB["api_handler"] / 1024
    )
    lambda_requests += WEBHOOKS_PER_MESSAGE * 1000
    dollars = {
        "lambda": sum(lambda_gb_s.values()) * PRICE["lambda_gb_second"] + lambda_requests * PRICE["lambda_request"],
        "dynamodb": (units.get("wru", 0.0) * PRICE["dynamodb_wru"] + units.get("rru", 0.0) * PRICE["dynamodb_rru"])
        * per,
        "sqs": by_service.get("sqs", 0) * per * PRICE["sqs_fifo_request"],
        "secrets_manager": by_service.get("secretsmanager", 0) * per * PRICE["secrets_api_call"],
        "eventbridge": by_service.get("events", 0) * per * PRICE["eventbridge_event"],
    }
    base = sum(dollars.values())
    ways = {
        "rest_api": base + WEBHOOKS_PER_MESSAGE * 1000 * PRICE["apigw_rest_request"],
        "http_api": base + WEBHOOKS_PER_MESSAGE * 1000 * PRICE["apigw_http_request"],
        "function_url": base + WEBHOOKS_PER_MESSAGE * 1000 * PRICE["function_url_request"],
    }
    return {
        "messages": n,
        "aws_requests_per_message": {k: round(v / n, 3) for k, v in sorted(by_service.items())},
        "dynamodb_units_per_message": {k: round(v / n, 3) for k, v in sorted(units.items())},
        "webhooks_measured_per_message": round(webhooks / n, 2),
        "lambda_gb_s_per_1000": {k: round(v, 2) for k, v in lambda_gb_s.items()},
        "dollars_per_1000_by_service": {k: round(v, 5) for k, v in dollars.items()},
        "dollars_per_1000_webhooks_via": {k: round(v, 5) for k, v in ways.items()},
        "prices": f"AWS on-demand list prices, us-east-1, {PRICES_DATE}",
    }


def bench_cost() -> list[dict[str, Any]]:
    """Both senders, priced; prints each."""
    out = []
    for kind, title, count in (
        ("sms", "cost: SMS at 1 mps (Twilio)", int(os.environ.get("BENCH_COST_SMS", "30"))),
        ("wa", "cost: WhatsApp Cloud API at 80 mps", int(os.environ.get("BENCH_COST_WA", "400"))),
    ):
        figures = price(_run(kind, count))
        print_figures(title, figures, width=32)
        out.append(figures)
    return out


if __name__ == "__main__":
    bench_cost()
