"""The upload wiring: S3 (moto) reports a new upload to the upload queue and the pump invokes upload_worker with it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from chalicelib.services import uploads
from tests.conftest import Env

KEY = "uploads/tn_x/up_y"


class Spy:
    """Records what upload_worker hands to the uploads service, and what the pump hands to each function."""

    def __init__(self, pump: Any, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        self.bodies: list[str] = []
        self.deps: list[Any] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        original = pump.invoke

        def invoke(name: str, event: dict[str, Any]) -> Any:
            self.events.append((name, event))
            return original(name, event)

        def handle_s3_notification(deps: Any, body: str) -> None:
            self.deps.append(deps)
            self.bodies.append(body)
            if fail:
                raise RuntimeError("upload processing failed")

        monkeypatch.setattr(pump, "invoke", invoke)
        monkeypatch.setattr(uploads, "handle_s3_notification", handle_s3_notification)

    def s3_records(self) -> list[dict[str, Any]]:
        """The S3 event records among the bodies (S3's s3:TestEvent has none)."""
        return [record for body in self.bodies for record in json.loads(body).get("Records", [])]


def test_an_upload_reaches_upload_worker_as_lambda_would_deliver_it(
    env: Env, pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the app's upload handler is watched, and S3 has sent its s3:TestEvent when the notification was set up
    spy = Spy(pump, monkeypatch)
    pump.drain(timeout=30)
    assert [json.loads(b).get("Event") for b in spy.bodies] == ["s3:TestEvent"]
    spy.bodies.clear()
    spy.deps.clear()
    spy.events.clear()

    # WHEN the PBX's file lands under uploads/ in the bucket the app is configured with
    boto3.client("s3").put_object(Bucket=env.resources.upload_bucket, Key=KEY, Body=b"number\n+41791234567\n")
    handled = pump.drain(timeout=30)

    # THEN upload_worker got one SQS event (the Lambda trigger's shape) carrying S3's event for that object
    assert handled == 1
    assert pump.errors == []
    (event,) = [e for n, e in spy.events if n == "upload_worker"]
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":msgcampaigns-uploads")
    assert record["messageId"] and record["receiptHandle"]
    assert spy.bodies == [record["body"]]  # the S3 event JSON, untouched
    (s3_record,) = spy.s3_records()
    assert s3_record["eventSource"] == "aws:s3"
    assert s3_record["eventName"].startswith("ObjectCreated:")
    assert s3_record["s3"]["bucket"]["name"] == env.resources.upload_bucket
    assert unquote_plus(s3_record["s3"]["object"]["key"]) == KEY
    # AND the service was called with this process's dependencies, whose bucket is the one S3 reported
    assert spy.deps == [env.deps]
    assert env.deps.blobs.bucket == env.resources.upload_bucket
    # AND the message was deleted once the handler returned
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=env.resources.upload_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_an_object_outside_uploads_does_not_invoke_upload_worker(
    env: Env, pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the watched upload handler and an empty upload queue
    spy = Spy(pump, monkeypatch)
    pump.drain(timeout=30)
    spy.bodies.clear()

    # WHEN the app writes its own object under processed/
    boto3.client("s3").put_object(Bucket=env.resources.upload_bucket, Key="processed/tn_x/up_y.jsonl", Body=b"{}\n")
    pump.drain(timeout=30)

    # THEN upload_worker is not invoked for it (the notification's prefix filter)
    assert spy.bodies == []


def test_a_failing_upload_stays_on_the_queue_for_redelivery(
    env: Env, pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upload handler that raises, and the s3:TestEvent already out of the way
    sqs = boto3.client("sqs")
    url = env.resources.upload_queue_url
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    spy = Spy(pump, monkeypatch, fail=True)

    # WHEN an upload is reported and the pump runs the trigger once
    boto3.client("s3").put_object(Bucket=env.resources.upload_bucket, Key=KEY, Body=b"number\n")
    handled = pump.pump_queues_once()

    # THEN, as with Lambda, the message is not deleted: it is in flight, to be received again
    assert handled == 0
    assert len(spy.s3_records()) == 1
    assert pump.errors and pump.errors[0].startswith("upload_worker: RuntimeError")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
