"""The event pump: plays the parts of AWS that moto stores but never fires.

It polls the SQS queues that Chalice event sources name and invokes their handlers as the Lambda SQS trigger
would (deleting a message only when the handler returns), fires EventBridge Scheduler one-time schedules when
they fall due, and runs `@app.schedule` handlers every minute. Handlers are discovered from the Chalice app, so
the pump calls exactly the functions Lambda would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from chalice.app import CloudWatchEventConfig, SQSEventConfig

log = logging.getLogger("pump")

REGION = "us-east-1"
ACCOUNT = "123456789012"
FAILED_VISIBILITY_SECONDS = 5


@dataclass
class LambdaContext:
    """The bits of Lambda's context object the handlers use."""

    function_name: str
    timeout_seconds: float
    started: float
    aws_request_id: str = ""
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before this invocation would time out."""
        return int(max(0.0, self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


class EventPump:
    """Invokes an app module's event handlers from moto's queues and schedules."""

    def __init__(
        self,
        app_module: ModuleType,
        sqs: Any,
        scheduler: Any | None = None,
        *,
        schedule_group: str = "default",
        timeouts: dict[str, float] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        chaos: Any | None = None,
    ) -> None:
        self._module = app_module
        self._app = app_module.app
        self._sqs = sqs
        self._scheduler = scheduler
        self._group = schedule_group
        self._timeouts = timeouts or {}
        self._now = now
        self._queue_urls: dict[str, str] = {}
        self.errors: list[str] = []
        self.handed_back = 0  # messages a handler reported as batch item failures (kept for later)
        self.by_function: dict[str, int] = {}
        self.busy_seconds: dict[str, float] = {}  # wall seconds inside each function (what Lambda would bill)
        self._lock = threading.Lock()
        self._chaos = chaos  # devstack/chaos.py: duplicate deliveries, killed invocations (None: no faults)

    # ----------------------------------------------------------------------------- handlers
    def _handler(self, name: str) -> Callable[[dict[str, Any], Any], Any]:
        handler: Callable[[dict[str, Any], Any], Any] = getattr(self._module, name)
        return handler

    def _context(self, name: str) -> LambdaContext:
        return LambdaContext(
            function_name=name,
            timeout_seconds=self._timeouts.get(name, 60.0),
            started=time.monotonic(),
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        )

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Invoke a Lambda function of the app by name, as Lambda would (counting invocations and their seconds)."""
        with self._lock:
            self.by_function[name] = self.by_function.get(name, 0) + 1
        started = time.monotonic()
        try:
            return self._handler(name)(event, self._context(name))
        finally:
            with self._lock:
                self.busy_seconds[name] = self.busy_seconds.get(name, 0.0) + time.monotonic() - started

    @property
    def invocations(self) -> int:
        """Invocations of every function so far."""
        with self._lock:
            return sum(self.by_function.values())

    def stats(self) -> dict[str, Any]:
        """What the pump ran: invocations and their seconds by function, and the chunks handed back."""
        with self._lock:
            return {
                "invocations": dict(self.by_function),
                "busy_seconds": {k: round(v, 3) for k, v in self.busy_seconds.items()},
                "handed_back": self.handed_back,
            }

    def _sqs_sources(self) -> list[SQSEventConfig]:
        return [s for s in self._app.event_sources if isinstance(s, SQSEventConfig)]

    def _queue_url(self, queue_name: str) -> str:
        if queue_name not in self._queue_urls:
            self._queue_urls[queue_name] = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return self._queue_urls[queue_name]

    # ----------------------------------------------------------------------------- SQS trigger
    def pump_queues_once(self, wait_seconds: int = 0) -> int:
        """Receive from every event-source queue once and invoke the handlers; returns messages handled."""
        handled = 0
        for source in self._sqs_sources():
            url = self._queue_url(str(source.queue))
            extra: dict[str, Any] = {"VisibilityTimeout": self._chaos.config.visibility} if self._chaos else {}
            out = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(source.batch_size, 10),
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"],
                **extra,
            )
            messages = out.get("Messages", [])
            if not messages:
                continue
            event = {"Records": [self._record(m, str(source.queue)) for m in messages]}
            try:
                if self._chaos is None:
                    answer = self.invoke(source.name, event)
                else:
                    killed, answer = self._invoke_in_chaos(source.name, event)
                    if killed:
                        continue  # killed: its messages come back once their visibility timeout passes
            except Exception as exc:  # noqa: BLE001 - as Lambda: the batch stays on the queue for redelivery
                log.exception("handler %s failed; messages will be redelivered", source.name)
                self.errors.append(f"{source.name}: {type(exc).__name__}: {exc}")
                for m in messages:
                    self._sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=FAILED_VISIBILITY_SECONDS
                    )
                continue
            # ReportBatchItemFailures, as Lambda's event source has it for the send worker: the messages a handler
            # names stay on the queue (a handed-back chunk, invisible until its number has slots again).
            kept = (
                {str(f.get("itemIdentifier")) for f in (answer or {}).get("batchItemFailures", [])}
                if isinstance(answer, dict)
                else set()
            )
            done = [m for m in messages if m["MessageId"] not in kept]
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            self.handed_back += len(messages) - len(done)
            handled += len(messages)
        return handled

    def _invoke_in_chaos(self, name: str, event: dict[str, Any]) -> tuple[bool, Any]:
        """Invoke under the chaos's faults: perhaps killed ((True, None)), and perhaps delivered again at once, as SQS
        does when a delete is lost (the same messages, the same receipt handles); (False, the last answer)."""
        from devstack.chaos import Killed

        chaos = self._chaos
        assert chaos is not None
        answer: Any = None
        for _ in range(1 + any(chaos.duplicates(len(event["Records"])))):
            try:
                with chaos.invocation(name):
                    answer = self.invoke(name, event)
            except Killed as killed:
                log.warning(
                    "chaos: %s killed (%s); its messages come back after their visibility timeout", name, killed
                )
                return True, None
        return False, answer

    @staticmethod
    def _record(message: dict[str, Any], queue_name: str) -> dict[str, Any]:
        body = message["Body"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),  # noqa: S324 - SQS's own checksum
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
            "awsRegion": REGION,
        }

    def drain(self, timeout: float = 60.0, settle_rounds: int = 2) -> int:
        """Pump until the queues stay empty (or `timeout`); returns messages handled."""
        deadline = time.monotonic() + timeout
        handled = 0
        quiet = 0
        while time.monotonic() < deadline:
            n = self.pump_queues_once()
            handled += n
            quiet = quiet + 1 if n == 0 else 0
            if quiet >= settle_rounds:
                return handled
        raise TimeoutError(f"queues not drained after {timeout}s ({handled} handled)")

    # ----------------------------------------------------------------------------- schedules
    def fire_due_schedules(self) -> int:
        """Invoke the target of every one-time schedule that is due, then delete it (ActionAfterCompletion)."""
        if self._scheduler is None:
            return 0
        fired = 0
        now = self._now()
        kwargs: dict[str, Any] = {"GroupName": self._group}
        names: list[str] = []
        while True:
            out = self._scheduler.list_schedules(**kwargs)
            names += [s["Name"] for s in out.get("Schedules", [])]
            if not out.get("NextToken"):
                break
            kwargs["NextToken"] = out["NextToken"]
        for name in names:
            schedule = self._scheduler.get_schedule(Name=name, GroupName=self._group)
            expression = schedule.get("ScheduleExpression", "")
            if not expression.startswith("at("):
                continue
            due = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)
            if due > now:
                continue
            target = schedule["Target"]
            function = target["Arn"].rsplit(":", 1)[-1]
            function = function.removeprefix(f"{self._app.app_name}-dev-")
            try:
                self.invoke(function, json.loads(target.get("Input") or "{}"))
            except Exception as exc:  # noqa: BLE001 - Scheduler retries; so do we, next round
                log.exception("schedule %s target failed", name)
                self.errors.append(f"schedule {name}: {exc}")
                continue
            self._scheduler.delete_schedule(Name=name, GroupName=self._group)
            fired += 1
        return fired

    def run_ticks(self) -> int:
        """Invoke every `@app.schedule` handler once, with a scheduled event."""
        ran = 0
        for source in self._app.event_sources:
            if isinstance(source, CloudWatchEventConfig) or hasattr(source, "schedule_expression"):
                now = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
                event = {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": ACCOUNT,
                    "time": now,
                    "region": REGION,
                    "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{source.name}"],
                    "detail": {},
                }
                try:
                    self.invoke(source.name, event)
                    ran += 1
                except Exception as exc:  # noqa: BLE001
                    log.exception("tick %s failed", source.name)
                    self.errors.append(f"tick {source.name}: {exc}")
        return ran

    # ----------------------------------------------------------------------------- background
    def start(self, workers: int = 2, tick_seconds: float = 60.0) -> threading.Event:
        """Run the pump in daemon threads until the returned event is set."""
        stop = threading.Event()

        def queue_loop() -> None:
            while not stop.is_set():
                try:
                    if self.pump_queues_once(wait_seconds=1) == 0:
                        stop.wait(0.05)
                except Exception:  # noqa: BLE001 - keep pumping
                    log.exception("queue pump error")
                    stop.wait(1.0)

        def clock_loop() -> None:
            next_tick = time.monotonic() + tick_seconds
            while not stop.is_set():
                try:
                    self.fire_due_schedules()
                    if time.monotonic() >= next_tick:
                        self.run_ticks()
                        next_tick += tick_seconds
                except Exception:  # noqa: BLE001
                    log.exception("schedule pump error")
                stop.wait(0.5)

        for i in range(workers):
            threading.Thread(target=queue_loop, name=f"pump-queue-{i}", daemon=True).start()
        threading.Thread(target=clock_loop, name="pump-clock", daemon=True).start()
        return stop
