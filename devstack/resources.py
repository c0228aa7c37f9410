"""Create the resources of infra/template.json (table, queues, bucket, schedule group, event bus) in moto or any AWS
endpoint."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TABLE_NAME = "msgcampaigns-local"
DUMMY_SCHEDULER_ROLE_ARN = "arn:aws:iam::123456789012:role/msgcampaigns-scheduler"
DUMMY_SCHEDULER_TARGET_ARN = "arn:aws:lambda:us-east-1:123456789012:function:msgcampaigns-dev-start_scheduled"
# The role EventBridge would assume to invoke a tenant's API destination (moto checks no role; the pump plays it).
DUMMY_EVENT_TARGET_ROLE_ARN = "arn:aws:iam::123456789012:role/msgcampaigns-api-destinations"

# CloudFormation AWS::SQS::Queue property -> SQS queue attribute (values are sent as strings).
_QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
    "DeduplicationScope": "DeduplicationScope",
    "FifoThroughputLimit": "FifoThroughputLimit",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
}


@dataclass(frozen=True)
class LocalResources:
    """Names and URLs of the resources created locally, and the env vars the app reads to find them."""

    table_name: str
    send_queue_url: str
    send_queue_name: str
    dlq_url: str
    scheduler_group: str
    upload_bucket: str
    upload_queue_url: str  # where the bucket reports new uploads (the upload worker's event source)
    # The table's stream (the events worker's event source; the pump reads it): its ARN names the time the table was
    # made, so resources made again after a reset are the same resources all the same.
    table_stream_arn: str = field(default="", compare=False)
    event_bus_name: str = ""
    events_dlq_url: str = ""  # the tenant rules' dead-letter queue
    events_dlq_arn: str = ""

    def env(self) -> dict[str, str]:
        """The environment variables pointing the app at these resources."""
        return {
            "TABLE_NAME": self.table_name,
            "SEND_QUEUE_URL": self.send_queue_url,
            "SEND_QUEUE_NAME": self.send_queue_name,
            "SCHEDULER_GROUP": self.scheduler_group,
            "SCHEDULER_ROLE_ARN": DUMMY_SCHEDULER_ROLE_ARN,
            "SCHEDULER_TARGET_ARN": DUMMY_SCHEDULER_TARGET_ARN,
            "UPLOAD_BUCKET": self.upload_bucket,
            "TABLE_STREAM_ARN": self.table_stream_arn,
            "EVENT_BUS_NAME": self.event_bus_name,
            "EVENT_TARGET_ROLE_ARN": DUMMY_EVENT_TARGET_ROLE_ARN,
            "EVENT_DEAD_LETTER_ARN": self.events_dlq_arn,
            # The local stack's receivers listen on 127.0.0.1 over plain http (the pump delivers there).
            "ALLOW_LOCAL_EVENT_URLS": "1",
        }


@dataclass(frozen=True)
class _Plan:
    """What to create, read once from the template."""

    tables: tuple[tuple[str, dict[str, Any], str | None], ...]  # (logical id, create_table kwargs, TTL attribute)
    queues: tuple[tuple[str, str, dict[str, Any]], ...]  # (logical id, queue name, CFN properties), DLQs first
    schedule_groups: tuple[str, ...]
    buckets: tuple[tuple[str, str, dict[str, Any]], ...]  # (logical id, bucket name, CFN properties)
    table_id: str
    send_queue_id: str
    dlq_id: str
    upload_bucket_id: str
    upload_queue_id: str
    buses: tuple[str, ...] = ()
    events_dlq_id: str | None = None  # the queue EVENT_DEAD_LETTER_ARN names


def _resolve_template_path(template_path: str | Path) -> Path:
    """A relative template path is taken from the repo root, so the local stack works from any directory."""
    path = Path(template_path)
    return path if path.is_absolute() else REPO_ROOT / path


def _getatt_target(value: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of an `Fn::GetAtt` in either form, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            logical_id, _, attribute = target.partition(".")
            return logical_id, attribute
        return str(target[0]), str(target[1])
    return None


def _ref_target(value: Any) -> str | None:
    """The logical id of a `Ref`, else None."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return None


def _env_refs(resources: dict[str, Any], variable: str) -> set[str]:
    """Logical ids that the functions' env var `variable` is a `Ref` to (how the template wires the app)."""
    found = set()
    for resource in resources.values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        target = _ref_target(variables.get(variable))
        if target:
            found.add(target)
    return found


def _env_getatts(resources: dict[str, Any], variable: str) -> set[str]:
    """Logical ids that the functions' env var `variable` is an `Fn::GetAtt` of."""
    found = set()
    for resource in resources.values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        target = _getatt_target(variables.get(variable))
        if target:
            found.add(target[0])
    return found


def _only(candidates: set[str] | list[str], what: str) -> str:
    """The single element of candidates; the template must be unambiguous."""
    unique = sorted(set(candidates))
    if len(unique) != 1:
        raise ValueError(f"infra template: expected exactly one {what}, found {unique}")
    return unique[0]


def _queue_dependencies(properties: dict[str, Any]) -> set[str]:
    """Logical ids of the queues this queue's RedrivePolicy points at."""
    target = _getatt_target(properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
    return {target[0]} if target else set()


def _queue_name(logical_id: str, properties: dict[str, Any]) -> str:
    """The template's QueueName, or a name derived from the logical id."""
    name = properties.get("QueueName")
    if isinstance(name, str):
        return name
    suffix = ".fifo" if properties.get("FifoQueue") else ""
    return f"msgcampaigns-{logical_id.lower()}{suffix}"


def _bucket_name(logical_id: str, properties: dict[str, Any]) -> str:
    """The template's BucketName, or a name derived from the logical id (CloudFormation would generate one)."""
    name = properties.get("BucketName")
    return name if isinstance(name, str) else f"msgcampaigns-{logical_id.lower()}"


def _notified_queues(properties: dict[str, Any]) -> set[str]:
    """Logical ids of the queues a bucket's NotificationConfiguration sends to."""
    found = set()
    for notification in properties.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        target = _getatt_target(notification.get("Queue"))
        if target:
            found.add(target[0])
    return found


def _table_kwargs(properties: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """create_table kwargs and the TTL attribute name for an AWS::DynamoDB::Table."""
    name = properties.get("TableName")
    kwargs: dict[str, Any] = {
        "TableName": name if isinstance(name, str) else DEFAULT_TABLE_NAME,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
            for index in properties["GlobalSecondaryIndexes"]
        ]
    if properties.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
    ttl = properties.get("TimeToLiveSpecification", {})
    return kwargs, ttl.get("AttributeName") if ttl.get("Enabled") else None


@lru_cache(maxsize=8)
def _plan(path: Path, mtime_ns: int) -> _Plan:
    """Read the template into a creation plan (cached per file version)."""
    resources: dict[str, Any] = json.loads(path.read_text())["Resources"]
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource.get("Type", ""), []).append(logical_id)

    tables = tuple(
        (logical_id, *_table_kwargs(resources[logical_id].get("Properties", {})))
        for logical_id in by_type.get("AWS::DynamoDB::Table", [])
    )

    queue_props = {qid: resources[qid].get("Properties", {}) for qid in by_type.get("AWS::SQS::Queue", [])}
    ordered: list[str] = []
    pending = dict(queue_props)
    while pending:  # dead-letter queues before the queues that redrive to them
        ready = [qid for qid, props in pending.items() if _queue_dependencies(props) <= set(ordered)]
        if not ready:
            raise ValueError(f"infra template: unresolvable RedrivePolicy among queues {sorted(pending)}")
        for qid in ready:
            ordered.append(qid)
            del pending[qid]
    queues = tuple((qid, _queue_name(qid, queue_props[qid]), queue_props[qid]) for qid in ordered)

    groups = tuple(
        str(resources[logical_id].get("Properties", {}).get("Name", "msgcampaigns"))
        for logical_id in by_type.get("AWS::Scheduler::ScheduleGroup", [])
    )

    buckets = tuple(
        (
            logical_id,
            _bucket_name(logical_id, resources[logical_id].get("Properties", {})),
            resources[logical_id].get("Properties", {}),
        )
        for logical_id in by_type.get("AWS::S3::Bucket", [])
    )

    table_id = _only(_env_refs(resources, "TABLE_NAME") or [t[0] for t in tables], "table (TABLE_NAME)")
    dlq_ids = {dep for props in queue_props.values() for dep in _queue_dependencies(props)}
    send_queue_id = _only(
        _env_refs(resources, "SEND_QUEUE_URL") or [qid for qid in queue_props if qid not in dlq_ids],
        "send queue (SEND_QUEUE_URL)",
    )
    dlq_id = _only(_queue_dependencies(queue_props[send_queue_id]), "dead-letter queue of the send queue")
    upload_bucket_id = _only(
        _env_refs(resources, "UPLOAD_BUCKET") or [b[0] for b in buckets], "upload bucket (UPLOAD_BUCKET)"
    )
    upload_queue_id = _only(
        _notified_queues(resources[upload_bucket_id].get("Properties", {})), "queue the upload bucket notifies"
    )
    buses = tuple(
        str(resources[logical_id].get("Properties", {}).get("Name", "msgcampaigns-events"))
        for logical_id in by_type.get("AWS::Events::EventBus", [])
    )
    events_dlq = _env_getatts(resources, "EVENT_DEAD_LETTER_ARN")
    return _Plan(
        tables,
        queues,
        groups,
        buckets,
        table_id,
        send_queue_id,
        dlq_id,
        upload_bucket_id,
        upload_queue_id,
        buses,
        _only(events_dlq, "events dead-letter queue (EVENT_DEAD_LETTER_ARN)") if events_dlq else None,
    )


def _queue_attributes(properties: dict[str, Any], arns: dict[str, str]) -> dict[str, str]:
    """SQS CreateQueue attributes for a queue's CloudFormation properties, with GetAtt Arn resolved."""
    attributes: dict[str, str] = {}
    for prop, attribute in _QUEUE_ATTRIBUTES.items():
        if prop in properties:
            value = properties[prop]
            attributes[attribute] = str(value).lower() if isinstance(value, bool) else str(value)
    redrive = properties.get("RedrivePolicy")
    if redrive:
        target = _getatt_target(redrive.get("deadLetterTargetArn"))
        dlq_arn = arns[target[0]] if target else str(redrive["deadLetterTargetArn"])
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return attributes


def _notification_configuration(properties: dict[str, Any], arns: dict[str, str]) -> dict[str, Any]:
    """PutBucketNotificationConfiguration's argument for a bucket's CloudFormation NotificationConfiguration."""
    configurations = []
    for notification in properties.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        target = _getatt_target(notification["Queue"])
        entry: dict[str, Any] = {
            "QueueArn": arns[target[0]] if target else str(notification["Queue"]),
            "Events": [notification["Event"]],
        }
        rules = notification.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
        configurations.append(entry)
    return {"QueueConfigurations": configurations} if configurations else {}


def _notification_signature(configuration: dict[str, Any]) -> list[tuple[str, tuple[str, ...], tuple[Any, ...]]]:
    """The parts of a notification configuration that matter (S3 adds ids and may capitalise filter names)."""
    return sorted(
        (
            str(q["QueueArn"]),
            tuple(sorted(q.get("Events", []))),
            tuple(
                sorted(
                    (r["Name"].lower(), r["Value"]) for r in q.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                )
            ),
        )
        for q in configuration.get("QueueConfigurations", [])
    )


def _cors_rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """PutBucketCors rules for a bucket's CloudFormation CorsConfiguration."""
    names = {
        "AllowedHeaders": "AllowedHeaders",
        "AllowedMethods": "AllowedMethods",
        "AllowedOrigins": "AllowedOrigins",
        "ExposedHeaders": "ExposeHeaders",  # the one property CloudFormation and the S3 API spell differently
        "MaxAge": "MaxAgeSeconds",
        "Id": "ID",
    }
    return [
        {names[key]: value for key, value in rule.items() if key in names}
        for rule in properties.get("CorsConfiguration", {}).get("CorsRules", [])
    ]


def _error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


# The environment a default session is built from: a new session (and its clients) only when one of these changes.
_SESSION_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


@lru_cache(maxsize=4)
def _default_session(environment: tuple[str | None, ...]) -> boto3.session.Session:
    """A session for this environment, kept so repeated calls don't reload the service models."""
    return boto3.session.Session()


@lru_cache(maxsize=32)
def _default_client(environment: tuple[str | None, ...], service: str, region: str, endpoint_url: str | None) -> Any:
    """A client of the default session for this environment (clients are thread-safe and reusable)."""
    session = _default_session(environment)
    return session.client(service, region_name=region, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def create_resources(
    session_or_none: boto3.session.Session | None,
    template_path: str | Path = "infra/template.json",
    endpoint_url: str | None = None,
) -> LocalResources:
    """Create the template's tables, queues and schedule groups where boto3 points (skipping existing ones)."""
    environment = tuple(os.environ.get(name) for name in _SESSION_ENV)
    session = session_or_none or _default_session(environment)
    region = session.region_name or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    path = _resolve_template_path(template_path)
    plan = _plan(path, path.stat().st_mtime_ns)

    def client(service: str) -> Any:
        if session_or_none is None:
            return _default_client(environment, service, region, endpoint_url)
        return session.client(service, region_name=region, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    dynamodb = client("dynamodb")
    table_names: dict[str, str] = {}
    for logical_id, kwargs, ttl_attribute in plan.tables:
        table_names[logical_id] = kwargs["TableName"]
        try:
            dynamodb.create_table(**kwargs)
        except ClientError as exc:
            if _error_code(exc) != "ResourceInUseException":
                raise
            continue
        if ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
            )

    sqs = client("sqs")
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    names: dict[str, str] = {}
    for logical_id, name, properties in plan.queues:
        url = sqs.create_queue(QueueName=name, Attributes=_queue_attributes(properties, arns))["QueueUrl"]
        urls[logical_id] = url
        names[logical_id] = name
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    bucket_names: dict[str, str] = {}
    for logical_id, name, properties in plan.buckets:
        bucket_names[logical_id] = name
        s3 = client("s3")
        create: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**create)
        except ClientError as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        cors = _cors_rules(properties)
        if cors:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
        notifications = _notification_configuration(properties, arns)
        # Putting a configuration makes S3 (and moto) send an s3:TestEvent to each queue: only put a changed one, so
        # creating the resources again does not add another test event.
        current = s3.get_bucket_notification_configuration(Bucket=name)
        if _notification_signature(current) != _notification_signature(notifications):
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications)

    if plan.schedule_groups:
        scheduler = client("scheduler")
        for group in plan.schedule_groups:
            try:
                scheduler.create_schedule_group(Name=group)
            except ClientError as exc:
                if _error_code(exc) != "ConflictException":
                    raise

    if plan.buses:
        events = client("events")
        for bus in plan.buses:
            try:
                events.create_event_bus(Name=bus)
            except ClientError as exc:
                if _error_code(exc) != "ResourceAlreadyExistsException":
                    raise

    table_name = table_names[plan.table_id]
    stream_arn = str(dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn", ""))
    return LocalResources(
        table_name=table_name,
        send_queue_url=urls[plan.send_queue_id],
        send_queue_name=names[plan.send_queue_id],
        dlq_url=urls[plan.dlq_id],
        scheduler_group=plan.schedule_groups[0] if plan.schedule_groups else "default",
        upload_bucket=bucket_names[plan.upload_bucket_id],
        upload_queue_url=urls[plan.upload_queue_id],
        table_stream_arn=stream_arn,
        event_bus_name=plan.buses[0] if plan.buses else "",
        events_dlq_url=urls[plan.events_dlq_id] if plan.events_dlq_id else "",
        events_dlq_arn=arns[plan.events_dlq_id] if plan.events_dlq_id else "",
    )
