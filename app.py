"""Chalice app: routes, webhooks, schedule and queue handlers, each a few lines (skeleton)."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron

from chalicelib import config

app = Chalice(app_name="msgcampaigns")


@app.route("/v1/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.on_sqs_message(queue=config.SEND_QUEUE_NAME, batch_size=1, name="send_worker")
def send_worker(event: Any) -> None:
    """Send one chunk of recipients (filled in by the send service)."""


@app.schedule(Cron("*", "*", "*", "*", "?", "*"), name="tick")
def tick(event: Any) -> None:
    """Minute tick: start due scheduled campaigns, recover stalled ones."""


@app.lambda_function(name="start_scheduled")
def start_scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Target of EventBridge Scheduler one-time schedules: start one scheduled campaign."""
    return {}
