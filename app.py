"""Chalice app: routes, webhooks, schedule and queue handlers, each a few lines."""

from __future__ import annotations

import math
from typing import Any

from chalice import Chalice, Cron
from chalice.app import CloudWatchEvent, DynamoDBEvent, SQSEvent

from chalicelib import config
from chalicelib.adapters.queue import Job, parse_message
from chalicelib.api import conversation_routes, function_url, http, tenant_routes
from chalicelib.api.routes import api
from chalicelib.services import lifecycle, pbx_events, sending, uploads
from chalicelib.wiring import current

app = Chalice(app_name="msgcampaigns")
# SQS keeps a message invisible for at most 12 hours.
MAX_HAND_BACK_SECONDS = 12 * 3600 - 60
# The route modules beside routes.py add theirs to the same blueprint: imported (above) before it is registered.
_ROUTE_MODULES = (conversation_routes, tenant_routes)
app.register_blueprint(api)
http.install(app)
# The routes the `webhooks` function's URL admits: the app's own webhook routes, nothing under /v1.
WEBHOOK_ROUTES = function_url.webhook_routes(app.routes)


@app.on_sqs_message(queue=config.SEND_QUEUE_NAME, batch_size=1, name="send_worker")
def send_worker(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Send the chunk of recipients each message names (or run a campaign job); an exception leaves the message.

    A chunk whose sender number has no free slot for a while is handed back, not slept through: its message is
    reported as a batch item failure (the event source has ReportBatchItemFailures, scripts/package.py) with its
    visibility set to when the number has slots again, so the FIFO group (one per sender) waits that long and the
    same chunk is delivered again then. Nothing is paid for meanwhile."""
    context: Any = event.context
    deps = current()
    later: list[dict[str, str]] = []
    for record in event:
        try:
            message = parse_message(record.body)
            if isinstance(message, Job):
                lifecycle.run_job(deps, message)
                continue
            raw = record.to_dict()
            receives = int((raw.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            back = sending.handle_chunk(
                deps, message, time_left=lambda: context.get_remaining_time_in_millis() / 1000.0, receives=receives
            )
        except Exception:
            # Try again in a minute rather than after the queue's visibility timeout; claims make it safe.
            deps.queue.retry_soon(record.receipt_handle)
            raise
        if back is not None:
            deps.queue.retry_soon(record.receipt_handle, seconds=min(MAX_HAND_BACK_SECONDS, max(1, math.ceil(back))))
            later.append({"itemIdentifier": str(raw.get("messageId", ""))})
    return {"batchItemFailures": later}


@app.on_sqs_message(queue=config.UPLOAD_QUEUE_NAME, batch_size=1, name="upload_worker")
def upload_worker(event: SQSEvent) -> None:
    """Process the uploads S3 reports (contact CSV import, media checks); an exception leaves the message."""
    deps = current()
    for record in event:
        uploads.handle_s3_notification(deps, record.body)


# From the oldest record kept (TRIM_HORIZON): a deployment that replaces the mapping loses no change made meanwhile.
@app.on_dynamodb_record(
    stream_arn=config.TABLE_STREAM_ARN, name="events_worker", batch_size=100, starting_position="TRIM_HORIZON"
)
def events_worker(event: DynamoDBEvent) -> dict[str, int]:
    """Put the PBX's events the table's changes make on the bus; an exception fails the batch (retried, bisected)."""
    return {"events": pbx_events.handle_records(current(), [record.to_dict() for record in event])}


@app.schedule(Cron("*", "*", "*", "*", "?", "*"), name="tick")
def tick(event: CloudWatchEvent) -> dict[str, int]:
    """Minute tick: start due scheduled campaigns the scheduler missed, finish or revive sending ones."""
    return lifecycle.tick(current())


@app.lambda_function(name="start_scheduled")
def start_scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Target of the EventBridge Scheduler one-time schedule of a campaign."""
    status = lifecycle.start_scheduled(current(), str(event["tenant_id"]), str(event["campaign_id"]))
    return {"campaign_id": event["campaign_id"], "status": status}


@app.lambda_function(name="webhooks")
def webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The provider webhooks through this function's URL (payload 2.0): served by the app as API Gateway REST would
    pass them, at no API Gateway charge; any other path answers 404."""
    return function_url.serve(event, context, app, WEBHOOK_ROUTES)
