"""The local stack's resources (devstack.resources) match infra/template.json, checked against moto's server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from devstack.resources import LocalResources, create_resources

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "infra" / "template.json").read_text())["Resources"]


def _of_type(resource_type: str) -> dict[str, Any]:
    """The template's resources of one type, by logical id."""
    return {k: v for k, v in TEMPLATE.items() if v.get("Type") == resource_type}


@pytest.fixture(scope="module")
def own_moto_url() -> Iterator[str]:
    """A moto server of this module's own on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(own_moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at a freshly reset moto server with dummy credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", own_moto_url)
    requests.post(f"{own_moto_url}/moto-api/reset", timeout=10).raise_for_status()
    yield own_moto_url


@pytest.fixture
def local(aws: str) -> LocalResources:
    """The resources created from the template in the reset moto server."""
    return create_resources(None)


def test_table_matches_template(local: LocalResources) -> None:
    """Key schema, attribute definitions, GSIs, stream and TTL are the template's."""
    (props,) = [r["Properties"] for r in _of_type("AWS::DynamoDB::Table").values()]
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=local.table_name)["Table"]
    assert local.table_name == props.get("TableName", "msgcampaigns-local")
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
    gsis = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert set(gsis) == {g["IndexName"] for g in props["GlobalSecondaryIndexes"]} == {"gsi1", "gsi2"}
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    for expected in props["GlobalSecondaryIndexes"]:
        assert gsis[expected["IndexName"]]["KeySchema"] == expected["KeySchema"]
        assert gsis[expected["IndexName"]]["Projection"]["ProjectionType"] == expected["Projection"]["ProjectionType"]
    ttl = dynamodb.describe_time_to_live(TableName=local.table_name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"] == "expires_at"


def test_send_queue_is_fifo_with_redrive(local: LocalResources) -> None:
    """The send queue is FIFO, with the template's visibility timeout and a redrive to the FIFO DLQ."""
    queues = _of_type("AWS::SQS::Queue")
    send = queues["SendQueue"]["Properties"]
    dlq = queues["SendDeadLetterQueue"]["Properties"]
    sqs = boto3.client("sqs")
    assert local.send_queue_name == send["QueueName"] == "msgcampaigns-send.fifo"
    attrs = sqs.get_queue_attributes(QueueUrl=local.send_queue_url, AttributeNames=["All"])["Attributes"]
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=local.dlq_url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert int(attrs["VisibilityTimeout"]) == send["VisibilityTimeout"]
    assert int(attrs["MessageRetentionPeriod"]) == send["MessageRetentionPeriod"]
    assert attrs.get("DeduplicationScope") == send["DeduplicationScope"]
    assert attrs.get("FifoThroughputLimit") == send["FifoThroughputLimit"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_attrs["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == send["RedrivePolicy"]["maxReceiveCount"]
    assert dlq_attrs["FifoQueue"] == "true"
    assert dlq_attrs["QueueArn"].endswith(":" + dlq["QueueName"])
    assert int(dlq_attrs["MessageRetentionPeriod"]) == dlq["MessageRetentionPeriod"]


def test_schedule_group_and_env(local: LocalResources) -> None:
    """The schedule group exists and env() names every resource the app reads."""
    (group,) = [r["Properties"]["Name"] for r in _of_type("AWS::Scheduler::ScheduleGroup").values()]
    assert local.scheduler_group == group
    assert boto3.client("scheduler").get_schedule_group(Name=group)["Name"] == group
    assert local.env() == {
        "TABLE_NAME": local.table_name,
        "SEND_QUEUE_URL": local.send_queue_url,
        "SEND_QUEUE_NAME": local.send_queue_name,
        "SCHEDULER_GROUP": group,
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/msgcampaigns-scheduler",
        "SCHEDULER_TARGET_ARN": "arn:aws:lambda:us-east-1:123456789012:function:msgcampaigns-dev-start_scheduled",
        "UPLOAD_BUCKET": local.upload_bucket,
        "TABLE_STREAM_ARN": local.table_stream_arn,
        "EVENT_BUS_NAME": local.event_bus_name,
        "EVENT_TARGET_ROLE_ARN": "arn:aws:iam::123456789012:role/msgcampaigns-api-destinations",
        "EVENT_DEAD_LETTER_ARN": local.events_dlq_arn,
        "ALLOW_LOCAL_EVENT_URLS": "1",
    }


def test_event_bus_dlq_and_stream(local: LocalResources) -> None:
    """The template's bus exists, the events DLQ is the queue EVENT_DEAD_LETTER_ARN names, and the table streams."""
    (bus,) = [r["Properties"]["Name"] for r in _of_type("AWS::Events::EventBus").values()]
    assert local.event_bus_name == bus
    assert boto3.client("events").describe_event_bus(Name=bus)["Name"] == bus
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=local.events_dlq_url, AttributeNames=["QueueArn"])
    assert arn["Attributes"]["QueueArn"] == local.events_dlq_arn and local.events_dlq_arn.endswith(
        ":msgcampaigns-events-dlq"
    )
    stream = boto3.client("dynamodbstreams").describe_stream(StreamArn=local.table_stream_arn)["StreamDescription"]
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_create_twice_is_harmless_and_fast(local: LocalResources, aws: str) -> None:
    """A second call skips what exists and returns the same resources; reset + create stays quick."""
    assert create_resources(None) == local
    started = time.monotonic()
    requests.post(f"{aws}/moto-api/reset", timeout=10).raise_for_status()
    assert create_resources(boto3.session.Session(), endpoint_url=aws) == local
    assert time.monotonic() - started < 2.0


def test_fifo_message_round_trip(local: LocalResources) -> None:
    """A message sent with group and deduplication ids is received with them."""
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=local.send_queue_url, MessageBody='{"chunk": 1}', MessageGroupId="cmp_1", MessageDeduplicationId="d1"
    )
    got = sqs.receive_message(
        QueueUrl=local.send_queue_url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert [m["Body"] for m in got] == ['{"chunk": 1}']
    assert got[0]["Attributes"]["MessageGroupId"] == "cmp_1"


def test_fifo_group_blocked_while_message_in_flight(local: LocalResources) -> None:
    """While a message of group G is in flight, receives skip G's later messages but serve other groups."""
    sqs = boto3.client("sqs")
    url = local.send_queue_url
    for group, dedup in (("G", "g1"), ("G", "g2"), ("H", "h1")):
        sqs.send_message(QueueUrl=url, MessageBody=dedup, MessageGroupId=group, MessageDeduplicationId=dedup)

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["g1"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in second] == ["h1"]  # g2 held back: g1 of the same group is in flight
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []

    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in third] == ["g2"]


def test_fifo_deduplication_id_drops_repeat(local: LocalResources) -> None:
    """A repeated MessageDeduplicationId within the window is accepted but not enqueued twice."""
    sqs = boto3.client("sqs")
    url = local.send_queue_url
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="once", MessageGroupId="cmp_2", MessageDeduplicationId="same")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in got] == ["once"]


def _drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message now visible on a queue, parsed, deleted as it is read."""
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_upload_bucket_and_queue_match_template(local: LocalResources) -> None:
    """GIVEN the template's bucket and upload queue WHEN created locally THEN name, CORS, queue and redrive match."""
    props = TEMPLATE["UploadBucket"]["Properties"]
    s3 = boto3.client("s3")
    assert local.upload_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    (rule,) = s3.get_bucket_cors(Bucket=local.upload_bucket)["CORSRules"]
    (expected,) = props["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == expected["AllowedMethods"]
    assert rule["AllowedOrigins"] == expected["AllowedOrigins"]

    queue = TEMPLATE["UploadQueue"]["Properties"]
    dlq = TEMPLATE["UploadDeadLetterQueue"]["Properties"]
    sqs = boto3.client("sqs")
    assert local.upload_queue_url.endswith("/" + queue["QueueName"])
    attrs = sqs.get_queue_attributes(QueueUrl=local.upload_queue_url, AttributeNames=["All"])["Attributes"]
    assert "FifoQueue" not in attrs  # standard: S3 cannot notify a FIFO queue
    assert int(attrs["VisibilityTimeout"]) == queue["VisibilityTimeout"]
    redrive = json.loads(attrs["RedrivePolicy"])
    dlq_url = sqs.get_queue_url(QueueName=dlq["QueueName"])["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == queue["RedrivePolicy"]["maxReceiveCount"]


def test_upload_bucket_notifies_the_upload_queue(local: LocalResources) -> None:
    """The bucket's notification configuration is the template's, aimed at the local upload queue's ARN."""
    (expected,) = TEMPLATE["UploadBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    sqs = boto3.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=local.upload_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    config = boto3.client("s3").get_bucket_notification_configuration(Bucket=local.upload_bucket)
    (queue_config,) = config["QueueConfigurations"]
    assert queue_config["QueueArn"] == queue_arn
    assert queue_config["Events"] == [expected["Event"]] == ["s3:ObjectCreated:*"]
    rules = {(r["Name"].lower(), r["Value"]) for r in queue_config["Filter"]["Key"]["FilterRules"]}
    assert rules == {(r["Name"], r["Value"]) for r in expected["Filter"]["S3Key"]["Rules"]} == {("prefix", "uploads/")}


def test_configuring_notifications_sends_one_s3_test_event(local: LocalResources) -> None:
    """As in AWS, S3 posts an s3:TestEvent when the notification is configured; creating again adds no second one."""
    create_resources(None)
    bodies = _drain(local.upload_queue_url)
    assert bodies == [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": bodies[0]["Time"], "Bucket": local.upload_bucket}
    ]


def test_an_object_under_uploads_is_reported_and_one_elsewhere_is_not(local: LocalResources) -> None:
    """GIVEN the local bucket WHEN objects are put under uploads/ and processed/ THEN only the first is reported."""
    _drain(local.upload_queue_url)  # the s3:TestEvent
    s3 = boto3.client("s3")
    s3.put_object(Bucket=local.upload_bucket, Key="processed/tn_x/up_y.jsonl", Body=b"{}\n")
    s3.put_object(Bucket=local.upload_bucket, Key="uploads/tn_x/up_y", Body=b"number\n+41791234567\n")

    bodies = _drain(local.upload_queue_url)

    assert len(bodies) == 1
    (record,) = bodies[0]["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == local.upload_bucket
    # S3 URL-encodes the key in events (moto even encodes the slashes): consumers must unquote_plus it.
    assert unquote_plus(record["s3"]["object"]["key"]) == "uploads/tn_x/up_y"
    assert record["s3"]["object"]["size"] == len(b"number\n+41791234567\n")
