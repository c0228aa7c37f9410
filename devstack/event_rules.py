"""The local stack's part of AWS that moto stores but never runs for the PBX events.

- `StreamSource` plays the Lambda event source mapping of `events_worker`: it polls moto's table stream
  (dynamodbstreams describe_stream / get_shard_iterator / get_records), keeps the records the packaged FilterCriteria
  keeps (chalicelib.domain.pbx_events.wanted), and invokes the worker with Lambda-shaped records. A failing batch
  is tried again from the same position; after MAX_BATCH_ATTEMPTS its range goes to the stream failure queue, as
  the mapping's OnFailure destination would.
- `RuleDelivery` plays each tenant's rule and API destination: a local-only tap rule (catch-all on the bus, created
  here) targets an SQS queue, which moto does deliver to; for each event on it, every other rule of the bus whose
  pattern matches (moto's own matcher) is looked up with its targets and API destination, the target's
  InputTransformer and HeaderParameters are applied as EventBridge documents them, and the result is POSTed to the
  destination's endpoint (127.0.0.1 only), with the connection's API key header; 5xx, 429 and connection errors
  are retried with backoff, then (like another 4xx at once) the event goes to the target's dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from moto.events.models import EventPattern

from chalicelib.domain.pbx_events import SOURCE, decode_image, wanted

log = logging.getLogger("pump.events")

TAP_RULE = "local-tap"
TAP_QUEUE = "msgcampaigns-local-events-tap"
STREAM_FAILURE_QUEUE = "msgcampaigns-events-stream-dlq"
MAX_BATCH_ATTEMPTS = 3
BATCH_SIZE = 100
REGION = "us-east-1"


def _queue_url(sqs: Any, arn: str) -> str:
    return str(sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])


# ------------------------------------------------------------------------------------------------ the stream
class StreamSource:
    """Invokes `events_worker` with the table stream's records, as Lambda's event source mapping would."""

    def __init__(self, invoke: Callable[[str, dict[str, Any]], Any], streams: Any, sqs: Any, stream_arn: str) -> None:
        self._invoke = invoke
        self._streams = streams
        self._sqs = sqs
        self.stream_arn = stream_arn
        self._iterators: dict[str, str | None] = {}
        self._held: dict[str, tuple[list[dict[str, Any]], str | None, int]] = {}  # shard -> (batch, next, attempts)
        self.invoked = 0
        self.failed_batches = 0

    def _shards(self) -> list[str]:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        return [str(s["ShardId"]) for s in shards]

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        data = dict(record["dynamodb"])
        stamp = data.get("ApproximateCreationDateTime")
        if isinstance(stamp, datetime):
            data["ApproximateCreationDateTime"] = stamp.timestamp()
        return {**record, "dynamodb": data, "eventSourceARN": self.stream_arn, "awsRegion": REGION}

    def pump_once(self) -> int:
        """Read each shard once and invoke the worker with what its filter keeps; returns records handled."""
        handled = 0
        for shard in self._shards():
            if shard in self._held:
                batch, after, attempts = self._held.pop(shard)
            else:
                if shard not in self._iterators:
                    self._iterators[shard] = self._streams.get_shard_iterator(
                        StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
                iterator = self._iterators[shard]
                if iterator is None:
                    continue
                out = self._streams.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
                after = out.get("NextShardIterator")
                batch = [
                    self._lambda_record(r)
                    for r in out.get("Records", [])
                    if wanted(decode_image(r["dynamodb"].get("Keys")) or {})
                ]
                attempts = 0
                if not batch:
                    self._iterators[shard] = after
                    continue
            try:
                self._invoke("events_worker", {"Records": batch})
            except Exception:  # noqa: BLE001 - as Lambda: the batch is tried again from where it was
                attempts += 1
                log.exception("events_worker failed (attempt %d)", attempts)
                if attempts < MAX_BATCH_ATTEMPTS:
                    self._held[shard] = (batch, after, attempts)
                    continue
                self._fail(batch)
            self.invoked += 1
            handled += len(batch)
            self._iterators[shard] = after
        return handled

    def _fail(self, batch: list[dict[str, Any]]) -> None:
        """What the OnFailure destination gets: the batch's range, never the records themselves."""
        self.failed_batches += 1
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": MAX_BATCH_ATTEMPTS},
            "DDBStreamBatchInfo": {
                "streamArn": self.stream_arn,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
            },
        }
        url = self._sqs.get_queue_url(QueueName=STREAM_FAILURE_QUEUE)["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


# ------------------------------------------------------------------------------------------------ the tenant rules
def json_path(document: Any, path: str) -> Any:
    """The value at a simple JSON path (`$.detail.delivery.body`), or None."""
    node = document
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def transform(event: dict[str, Any], transformer: dict[str, Any] | None) -> str:
    """A target's input as EventBridge makes it: the whole event, or the InputTemplate with each `<name>` replaced by
    its InputPathsMap value (a string as it is, anything else as JSON)."""
    if not transformer:
        return json.dumps(event)
    values = {name: json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if isinstance(value, str) else json.dumps(value)

    return re.sub(r"<([A-Za-z0-9_.-]+)>", fill, str(transformer.get("InputTemplate", "")))


def retryable(status: int | None) -> bool:
    """Whether EventBridge retries an API destination's answer (None: no answer at all)."""
    return status is None or status >= 500 or status in (408, 429)


class RuleDelivery:
    """Delivers what the tenants' rules would deliver, from the tap queue."""

    def __init__(
        self,
        events: Any,
        sqs: Any,
        bus_name: str,
        *,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 5.0,
        secrets: Any | None = None,
    ) -> None:
        self._events = events
        self._secrets = secrets
        self._sqs = sqs
        self.bus_name = bus_name
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._timeout = timeout
        self.delivered = 0
        self.dead_lettered = 0
        self._tap_url = self._ensure_tap()

    def _ensure_tap(self) -> str:
        url = str(self._sqs.create_queue(QueueName=TAP_QUEUE)["QueueUrl"])
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._events.put_rule(
            Name=TAP_RULE, EventBusName=self.bus_name, EventPattern=json.dumps({"source": [SOURCE]}), State="ENABLED"
        )
        self._events.put_targets(Rule=TAP_RULE, EventBusName=self.bus_name, Targets=[{"Id": "tap", "Arn": arn}])
        return url

    def deliver_once(self, wait_seconds: int = 0) -> int:
        """Take the tap queue's events once and play every matching rule for each; returns events handled."""
        out = self._sqs.receive_message(QueueUrl=self._tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages = out.get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            for rule in self._rules():
                if EventPattern.load(rule.get("EventPattern", "{}")).matches_event(event):
                    self._play(rule, event)
            self._sqs.delete_message(QueueUrl=self._tap_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"EventBusName": self.bus_name}
        while True:
            out = self._events.list_rules(**kwargs)
            rules += [r for r in out.get("Rules", []) if r["Name"] != TAP_RULE and r.get("State") == "ENABLED"]
            if not out.get("NextToken"):
                return rules
            kwargs["NextToken"] = out["NextToken"]

    def _play(self, rule: dict[str, Any], event: dict[str, Any]) -> None:
        targets = self._events.list_targets_by_rule(Rule=rule["Name"], EventBusName=self.bus_name)["Targets"]
        for target in targets:
            if ":api-destination/" in target["Arn"]:
                self._to_api_destination(rule, target, event)

    def _to_api_destination(self, rule: dict[str, Any], target: dict[str, Any], event: dict[str, Any]) -> None:
        name = target["Arn"].split(":api-destination/", 1)[1].split("/", 1)[0]
        destination = self._events.describe_api_destination(Name=name)
        connection = self._events.describe_connection(
            Name=destination["ConnectionArn"].split(":connection/")[1].split("/")[0]
        )
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers.update(self._connection_headers(connection))
        for header, value in target.get("HttpParameters", {}).get("HeaderParameters", {}).items():
            resolved = json_path(event, value) if str(value).startswith("$.") else value
            headers[header] = "" if resolved is None else str(resolved)
        body = transform(event, target.get("InputTransformer"))
        endpoint = str(destination["InvocationEndpoint"])
        if urlsplit(endpoint).hostname != "127.0.0.1":
            self._dead_letter(target, rule, event, "LOCAL_ONLY", "the local stack delivers to 127.0.0.1 only")
            return
        status: int | None = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                status = requests.request(
                    destination.get("HttpMethod", "POST"),
                    endpoint,
                    data=body.encode("utf-8"),
                    headers=headers,
                    timeout=self._timeout,
                ).status_code
            except requests.RequestException:
                status = None
            if status is not None and 200 <= status < 300:
                self.delivered += 1
                return
            if not retryable(status):
                break
        code = f"HTTP {status}" if status is not None else "NO_ANSWER"
        self._dead_letter(target, rule, event, code, f"not delivered to {endpoint}")

    def _connection_headers(self, connection: dict[str, Any]) -> dict[str, str]:
        """The API key header a connection adds: its name from the connection, its value from the connection's secret
        (where EventBridge keeps it; DescribeConnection never answers it)."""
        key = connection.get("AuthParameters", {}).get("ApiKeyAuthParameters", {})
        if not key.get("ApiKeyName"):
            return {}
        value = key.get("ApiKeyValue")
        if value is None and connection.get("SecretArn") and self._secrets is not None:
            stored = json.loads(self._secrets.get_secret_value(SecretId=connection["SecretArn"])["SecretString"])
            value = stored.get("api_key_value", stored.get("ApiKeyValue"))
        return {str(key["ApiKeyName"]): str(value or "")}

    def _dead_letter(
        self, target: dict[str, Any], rule: dict[str, Any], event: dict[str, Any], code: str, why: str
    ) -> None:
        """Put the event on the target's DLQ with the attributes EventBridge adds."""
        self.dead_lettered += 1
        log.warning("event %s dead-lettered: %s (%s)", event.get("id"), code, why)
        arn = target.get("DeadLetterConfig", {}).get("Arn")
        if not arn:
            return
        self._sqs.send_message(
            QueueUrl=_queue_url(self._sqs, arn),
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RULE_ARN": {"DataType": "String", "StringValue": str(rule.get("Arn", rule["Name"]))},
                "TARGET_ARN": {"DataType": "String", "StringValue": str(target["Arn"])},
                "ERROR_CODE": {"DataType": "String", "StringValue": code},
                "ERROR_MESSAGE": {"DataType": "String", "StringValue": why},
            },
        )


def start(source: StreamSource, delivery: RuleDelivery, poll_seconds: float = 0.25) -> threading.Event:
    """Run both in daemon threads until the returned event is set (cheap polling: a short wait when idle)."""
    stop = threading.Event()

    def stream_loop() -> None:
        while not stop.is_set():
            try:
                if source.pump_once() == 0:
                    stop.wait(poll_seconds)
            except Exception:  # noqa: BLE001 - keep pumping
                log.exception("stream pump error")
                stop.wait(1.0)

    def delivery_loop() -> None:
        while not stop.is_set():
            try:
                delivery.deliver_once(wait_seconds=1)
            except Exception:  # noqa: BLE001
                log.exception("event delivery error")
                stop.wait(1.0)

    threading.Thread(target=stream_loop, name="pump-stream", daemon=True).start()
    threading.Thread(target=delivery_loop, name="pump-events", daemon=True).start()
    return stop
