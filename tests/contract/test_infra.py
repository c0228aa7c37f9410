"""`make package` output: the merged Chalice + infra/template.json template is lint-clean, acyclic and complete."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from chalicelib import config

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
APP_ENV = (
    "TABLE_NAME",
    "SEND_QUEUE_URL",
    "SEND_QUEUE_NAME",
    "SCHEDULER_GROUP",
    "SCHEDULER_ROLE_ARN",
    "SCHEDULER_TARGET_ARN",
    "PUBLIC_BASE_URL",
    "UPLOAD_BUCKET",
    "EVENT_BUS_NAME",
    "EVENT_TARGET_ROLE_ARN",
    "EVENT_DEAD_LETTER_ARN",
)


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run scripts/package.py (what `make package` runs) once for this module; the produced template's path."""
    out = tmp_path_factory.mktemp("package")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"package failed:\n{proc.stdout}\n{proc.stderr}"
    assert (out / "deployment.zip").is_file()
    return out / "sam.json"


@pytest.fixture(scope="module")
def template(template_path: Path) -> dict[str, Any]:
    """The produced template, parsed."""
    return json.loads(template_path.read_text())


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    """The produced template's resources."""
    return template["Resources"]


def _references(node: Any, names: set[str]) -> set[str]:
    """Logical ids among names that node refers to via Ref, Fn::GetAtt or Fn::Sub (both branches of Fn::If)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                for match in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if match not in variables:
                        found.add(match.split(".")[0])
                found |= _references(variables, names)
            else:
                found |= _references(value, names)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item, names)
    return found & names


def dependency_graph(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Each resource's direct dependencies (references and DependsOn)."""
    names = set(resources)
    graph = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = (_references(resource.get("Properties", {}), names) | explicit) - {logical_id}
        if logical_id in _references(resource.get("Properties", {}), names):
            graph[logical_id].add(logical_id)  # a resource referring to itself is a cycle too
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A dependency cycle as a path of logical ids, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cfn_lint_reports_nothing(template_path: Path) -> None:
    """cfn-lint (errors, warnings and informational checks) finds nothing in the produced template."""
    matches = lint(
        template_path.read_text(),
        config=ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"]),
    )
    report = "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches)
    assert not matches, report


def test_no_dependency_cycle(resources: dict[str, Any]) -> None:
    """No circular references (cfn-lint's cycle check does not see through SAM resources, so check here)."""
    assert find_cycle(dependency_graph(resources)) is None


def test_cycle_check_catches_api_url_in_api_handler_env(resources: dict[str, Any]) -> None:
    """Why PUBLIC_BASE_URL is a parameter: the API handler can't name its own RestAPI (RestAPI names the handler)."""
    patched = json.loads(json.dumps(resources))
    variables = patched["APIHandler"]["Properties"]["Environment"]["Variables"]
    variables["PUBLIC_BASE_URL"] = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.amazonaws.com/api"}
    assert find_cycle(dependency_graph(patched)) == ["APIHandler", "RestAPI", "APIHandler"]


def test_send_worker_consumes_the_fifo_queue_one_at_a_time(resources: dict[str, Any]) -> None:
    """send_worker's SQS event source reads the template's FIFO send queue with BatchSize 1, after it exists."""
    queue = resources["SendQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["FifoQueue"] is True
    assert queue["Properties"]["ContentBasedDeduplication"] is False
    worker = resources["SendWorker"]
    assert worker["Properties"]["Handler"] == "app.send_worker"
    sqs_events = [e["Properties"] for e in worker["Properties"]["Events"].values() if e["Type"] == "SQS"]
    assert len(sqs_events) == 1
    event = sqs_events[0]
    assert event["BatchSize"] == 1
    # Lambda supports no batching window on FIFO queues; Chalice writes one anyway and package.py removes it.
    assert "MaximumBatchingWindowInSeconds" not in event
    # A chunk handed back until its number has slots is a batch item failure: without this Lambda would delete it.
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Chalice names the queue by ARN built from its name; it must be the template's queue.
    assert event["Queue"]["Fn::Sub"].endswith(":" + queue["Properties"]["QueueName"])
    assert queue["Properties"]["QueueName"] == config.SEND_QUEUE_NAME == "msgcampaigns-send.fifo"
    # The event source mapping refers to the function, whose env refers to the queue: created after it.
    assert "SendQueue" in dependency_graph(resources)["SendWorker"]
    # A message stays invisible as long as a worker may run (Lambda refuses an event source whose queue's visibility
    # is shorter), and no longer than two minutes: that is the lease on a chunk, after which a dead worker's chunk
    # is delivered again. (AWS suggests 6x the timeout against throttled invocations; the sender's own hand-backs and
    # retry_soon set the visibility they need, and 100 receives leave room before the dead-letter queue.)
    assert worker["Properties"]["Timeout"] <= queue["Properties"]["VisibilityTimeout"] <= 120


def test_send_queue_redrives_to_fifo_dlq(resources: dict[str, Any]) -> None:
    """A chunk received 100 times goes to the FIFO DLQ, which an alarm watches. Each hand-back of a paced chunk is
    a receive (at most one per recipient of a 50-recipient chunk, at the slowest mps), so 100 leaves room for 50
    failures, each retried a minute later."""
    send = resources["SendQueue"]["Properties"]
    assert send["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["SendDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 100,
    }
    assert send["DeduplicationScope"] == "messageGroup"
    assert send["FifoThroughputLimit"] == "perMessageGroupId"
    assert send["SqsManagedSseEnabled"] is True
    dlq = resources["SendDeadLetterQueue"]["Properties"]
    assert dlq["QueueName"] == "msgcampaigns-send-dlq.fifo"
    assert dlq["FifoQueue"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    alarm = resources["SendDeadLetterQueueAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SendDeadLetterQueue", "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every logical id start depends on, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_upload_bucket_reports_new_uploads_to_the_upload_queue(resources: dict[str, Any]) -> None:
    """GIVEN the bucket WHEN an object is created under uploads/ THEN S3 notifies the upload queue (and only then)."""
    bucket = resources["UploadBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "uploads/"}]}}
    # S3 checks it may send to the queue when the notification is created: the queue policy must exist first.
    assert bucket["DependsOn"] == "UploadQueuePolicy"
    policy = resources["UploadQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "UploadQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Allow",
        {"Service": "s3.amazonaws.com"},
        "sqs:SendMessage",
    )
    assert statement["Resource"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # The policy cannot name the bucket: the bucket depends on it.
    assert "UploadBucket" not in dependency_graph(resources)["UploadQueuePolicy"]


def test_upload_bucket_is_private_encrypted_and_owner_enforced(resources: dict[str, Any]) -> None:
    """Public access is blocked four ways, objects are SSE-S3 encrypted, ACLs are off, stale multipart parts go."""
    props = resources["UploadBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {"Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}.items() <= next(
        r for r in rules if "AbortIncompleteMultipartUpload" in r
    ).items()
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert set(cors["AllowedMethods"]) == {"PUT", "GET"}
    assert cors["AllowedOrigins"] == ["*"]


def test_upload_queue_outlives_the_worker_and_redrives_to_its_dlq(resources: dict[str, Any]) -> None:
    """A message stays invisible longer than upload_worker may run; three failed receives move it to the DLQ."""
    queue = resources["UploadQueue"]["Properties"]
    worker = resources["UploadWorker"]["Properties"]
    assert worker["Handler"] == "app.upload_worker"
    assert (worker["Timeout"], worker["MemorySize"]) == (900, 1024)  # .chalice/config.json's upload_worker
    assert "FifoQueue" not in queue  # a standard queue: S3 cannot notify a FIFO queue
    assert queue["QueueName"] == config.UPLOAD_QUEUE_NAME == "msgcampaigns-uploads"
    assert queue["VisibilityTimeout"] > worker["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["UploadDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    dlq = resources["UploadDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    alarm = resources["UploadDeadLetterQueueAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UploadDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_upload_worker_consumes_the_upload_queue_with_its_own_permissions(resources: dict[str, Any]) -> None:
    """upload_worker's SQS event source reads the template's upload queue one message at a time, after it exists."""
    worker = resources["UploadWorker"]["Properties"]
    (event,) = [e["Properties"] for e in worker["Events"].values() if e["Type"] == "SQS"]
    assert event["BatchSize"] == 1
    assert event["Queue"]["Fn::Sub"].endswith(":" + resources["UploadQueue"]["Properties"]["QueueName"])
    # Chalice names the queue by a built ARN, not a reference; the env (UPLOAD_BUCKET -> bucket -> queue policy ->
    # queue) is what orders the event source mapping after the queue.
    assert "UploadQueue" in _reachable(dependency_graph(resources), "UploadWorker")
    # The event source mapping polls with the function's role: it needs the consume permissions on the queue.
    role = resources[worker["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert {"Ref": "UploadQueueConsumerPolicy"} in role["ManagedPolicyArns"]
    (statement,) = resources["UploadQueueConsumerPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(statement["Action"])
    # ...and no other function can consume it.
    for logical_id, function in resources.items():
        if function["Type"] in FUNCTION_TYPES and logical_id != "UploadWorker":
            other_role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
            assert {"Ref": "UploadQueueConsumerPolicy"} not in other_role["ManagedPolicyArns"], logical_id


def test_functions_may_use_the_upload_bucket(resources: dict[str, Any]) -> None:
    """The app policy grants object read/write/delete under the bucket and listing of the bucket itself."""
    statements = resources["AppAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    def actions_on(resource: Any) -> set[str]:
        return {
            action
            for s in statements
            if s["Effect"] == "Allow" and s["Resource"] == resource
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }

    objects = actions_on({"Fn::Sub": "${UploadBucket.Arn}/*"})
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= objects
    assert actions_on({"Fn::GetAtt": ["UploadBucket", "Arn"]}) == {"s3:ListBucket"}


def test_table_keys_and_gsi(resources: dict[str, Any]) -> None:
    """Single-table design: pk/sk, gsi1 (gsi1pk/gsi1sk, ALL), gsi2 (a contact's campaign messages by sent_at: reply
    attribution), a stream with both images (PBX events), on-demand, PITR, SSE, TTL, retained."""
    table = resources["CampaignsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
        ("gsi1pk", "S"),
        ("gsi1sk", "S"),
        ("thread", "S"),
        ("sent_at", "S"),
    }
    gsi, replies = props["GlobalSecondaryIndexes"]
    assert replies["IndexName"] == "gsi2"
    assert replies["KeySchema"] == [
        {"AttributeName": "thread", "KeyType": "HASH"},
        {"AttributeName": "sent_at", "KeyType": "RANGE"},
    ]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_every_function_gets_the_app_env(resources: dict[str, Any]) -> None:
    """Every Lambda function has the resource env vars (and keeps .chalice/config.json's)."""
    functions = {k: v for k, v in resources.items() if v["Type"] in FUNCTION_TYPES}
    assert set(functions) == {
        "APIHandler",
        "SendWorker",
        "UploadWorker",
        "Tick",
        "StartScheduled",
        "EventsWorker",
        "Webhooks",
    }
    for logical_id, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        missing = [name for name in APP_ENV if name not in variables]
        assert not missing, f"{logical_id} lacks {missing}"
        assert variables["TABLE_NAME"] == {"Ref": "CampaignsTable"}
        assert variables["SEND_QUEUE_URL"] == {"Ref": "SendQueue"}
        assert variables["PUBLIC_BASE_URL"] == {"Ref": "PublicBaseUrl"}
        assert variables["UPLOAD_BUCKET"] == {"Ref": "UploadBucket"}
        assert variables["SECRETS_PREFIX"] == "msgcampaigns/"
    start = resources["StartScheduled"]["Properties"]
    own_arn = start["Environment"]["Variables"]["SCHEDULER_TARGET_ARN"]["Fn::Sub"]
    assert own_arn.endswith(":function:" + start["FunctionName"]["Fn::Sub"])
    # The webhooks function names start_scheduled by its name too: StartScheduled names the webhooks' URL.
    by_name = resources["Webhooks"]["Properties"]["Environment"]["Variables"]["SCHEDULER_TARGET_ARN"]
    assert by_name == {"Fn::Sub": own_arn}
    for logical_id in ("APIHandler", "SendWorker", "UploadWorker", "Tick", "EventsWorker"):
        target = resources[logical_id]["Properties"]["Environment"]["Variables"]["SCHEDULER_TARGET_ARN"]
        assert target == {"Fn::GetAtt": ["StartScheduled", "Arn"]}


def test_every_function_role_has_the_app_policy(resources: dict[str, Any]) -> None:
    """Each Chalice function role carries the app's managed policy, so permissions exist before the functions do."""
    for logical_id, function in resources.items():
        if function["Type"] not in FUNCTION_TYPES:
            continue
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert resources[role_id]["Type"] == "AWS::IAM::Role"
        assert {"Ref": "AppAccessPolicy"} in resources[role_id]["Properties"]["ManagedPolicyArns"], logical_id
    statements = resources["AppAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    for needed in (
        "dynamodb:TransactWriteItems",
        "dynamodb:Query",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "secretsmanager:CreateSecret",
        "secretsmanager:GetSecretValue",
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "iam:PassRole",
    ):
        assert needed in actions


def test_scheduler_group_and_role(resources: dict[str, Any]) -> None:
    """EventBridge Scheduler may invoke start_scheduled (by its fixed name) through its own role."""
    assert resources["SchedulerGroup"]["Properties"]["Name"] == "msgcampaigns"
    role = resources["SchedulerInvokeRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    function_name = resources["StartScheduled"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert statement["Resource"][0]["Fn::Sub"].endswith(":function:" + function_name)


def test_gateway_responses_use_the_error_shape(resources: dict[str, Any]) -> None:
    """Unknown routes answer 404 not_found; other gateway 4xx/5xx use the contract's JSON error shape."""
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    expected = {
        "MISSING_AUTHENTICATION_TOKEN": "not_found",
        "DEFAULT_4XX": "invalid_request",
        "DEFAULT_5XX": "internal_error",
    }
    assert set(responses) == set(expected)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    for response_type, code in expected.items():
        response = responses[response_type]
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
        rendered = response["responseTemplates"]["application/json"].replace("$context.error.messageString", '"x"')
        error = json.loads(rendered)["error"]
        assert error["code"] == code
        assert isinstance(error["message"], str) and error["message"]
        assert error["details"] == []
    # Chalice's routes are still there next to the merged-in extension.
    assert "/v1/health" in body["paths"]


def test_outputs_and_parameters(template: dict[str, Any]) -> None:
    """The operator-facing outputs and the PublicBaseUrl parameter."""
    outputs = template["Outputs"]
    assert outputs["TableName"]["Value"] == {"Ref": "CampaignsTable"}
    assert outputs["SendQueueUrl"]["Value"] == {"Ref": "SendQueue"}
    assert outputs["SendDeadLetterQueueUrl"]["Value"] == {"Ref": "SendDeadLetterQueue"}
    assert outputs["UploadBucketName"]["Value"] == {"Ref": "UploadBucket"}
    assert outputs["UploadQueueUrl"]["Value"] == {"Ref": "UploadQueue"}
    assert outputs["EventBusName"]["Value"] == {"Ref": "EventBus"}
    assert outputs["EventsDeadLetterQueueUrl"]["Value"] == {"Ref": "EventsDeadLetterQueue"}
    assert "EndpointURL" in outputs  # Chalice's
    parameter = template["Parameters"]["PublicBaseUrl"]
    assert "Default" not in parameter
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("https://abc123.execute-api.us-east-1.amazonaws.com/api")
    assert not pattern.fullmatch("https://abc123.execute-api.us-east-1.amazonaws.com/api/")
    assert not pattern.fullmatch("http://example.com")


def _package_module() -> Any:
    """scripts/package.py as a module (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deployment_zip_holds_only_what_lambda_runs(template_path: Path) -> None:
    # GIVEN the zip `make package` built WHEN its entries are listed
    with zipfile.ZipFile(template_path.with_name("deployment.zip")) as bundle:
        names = bundle.namelist()
    # THEN the app and its libraries are there, and nothing of the dev stack, the simulator, tests, bench or moto
    assert "app.py" in names
    assert "chalicelib/config.py" in names
    assert any(n.startswith("twilio/") for n in names)
    top = {n.split("/", 1)[0] for n in names}
    assert not top & {"devstack", "tests", "bench", "scripts", "infra", "moto", "examples"}, sorted(top)
    assert not [n for n in names if n.startswith("chalicelib/local/") or "simulator" in n or "twilio_sim" in n]


def test_a_zip_with_dev_only_files_is_refused() -> None:
    # GIVEN entries a stale tree or a wrong import could bring into the zip WHEN the build's check reads them
    dev_only_entries = _package_module().dev_only_entries
    stale = [
        "chalicelib/local/simulator.py",
        "chalicelib/local/__pycache__/pump.cpython-311.pyc",
        "devstack/stack.py",
        "tests/conftest.py",
        "bench/run.py",
        "moto/server.py",
        "chalicelib/twilio_sim/model.py",
    ]
    # THEN each is named, and the app's own files and libraries are not
    assert dev_only_entries([*stale, "app.py", "chalicelib/api/routes.py", "twilio/rest/__init__.py"]) == stale


def test_deployment_zip_libraries_are_the_locked_versions(template_path: Path) -> None:
    # GIVEN the zip `make package` built and requirements.lock WHEN the libraries in the zip are read
    module = _package_module()
    with zipfile.ZipFile(template_path.with_name("deployment.zip")) as bundle:
        shipped = module.shipped_versions(bundle.namelist())
    locked = module.locked_versions(ROOT / "requirements.lock")
    # THEN Lambda gets exactly the pinned libraries, each at its pinned version
    assert shipped["twilio"] == locked["twilio"]
    assert shipped["pydantic-core"] == locked["pydantic-core"]
    assert shipped == locked


# ---------------------------------------------------------------------------------------------------- PBX events
def _statements(resources: dict[str, Any], policy: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in resources[policy]["Properties"]["PolicyDocument"]["Statement"]}


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_events_worker_reads_the_tables_stream_filtered_with_retries_and_a_failure_queue(
    resources: dict[str, Any],
) -> None:
    """The events worker's source is this stack's table stream (not Chalice's placeholder), from the oldest record,
    filtered to the items that can be events, bisected and retried, then reported to its failure queue."""
    from chalicelib.domain.pbx_events import WANTED_KEYS

    table = resources["CampaignsTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (source,) = resources["EventsWorker"]["Properties"]["Events"].values()
    assert source["Type"] == "DynamoDB"
    props = source["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["CampaignsTable", "StreamArn"]}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BisectBatchOnFunctionError"] is True and 0 < props["MaximumRetryAttempts"] <= 10_000
    failure = props["DestinationConfig"]["OnFailure"]
    assert failure["Destination"] == {"Fn::GetAtt": ["EventsStreamFailureQueue", "Arn"]}
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    keys = {
        (p["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"], p["dynamodb"]["Keys"]["sk"]["S"][0]["prefix"]) for p in patterns
    }
    assert keys == set(WANTED_KEYS) and len(patterns) <= 5


def test_events_worker_role_may_read_the_stream_put_events_and_report_failures(resources: dict[str, Any]) -> None:
    """The worker's own policy: the stream, PutEvents on the bus, SendMessage to its failure queue."""
    role = resources[resources["EventsWorker"]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert {"Ref": "EventsWorkerPolicy"} in role["ManagedPolicyArns"]
    statements = _statements(resources, "EventsWorkerPolicy")
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} <= _actions(
        statements["TableStream"]
    )
    assert statements["TableStream"]["Resource"] == {"Fn::GetAtt": ["CampaignsTable", "StreamArn"]}
    assert statements["PutPbxEvents"]["Resource"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    assert statements["StreamFailures"]["Resource"] == {"Fn::GetAtt": ["EventsStreamFailureQueue", "Arn"]}
    # AND only the worker may put events (the API handler manages routes instead)
    api_role = resources["ApiHandlerRole"]["Properties"]
    assert {"Ref": "EventsWorkerPolicy"} not in api_role["ManagedPolicyArns"]


def test_the_api_handler_may_manage_tenant_routes_and_pass_the_invoke_role(resources: dict[str, Any]) -> None:
    """PATCH /v1/tenant creates a connection, API destination, rule and target, passing EventBridge its role."""
    assert {"Ref": "EventRoutesPolicy"} in resources["ApiHandlerRole"]["Properties"]["ManagedPolicyArns"]
    statements = _statements(resources, "EventRoutesPolicy")
    assert {"events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule"} <= _actions(
        statements["TenantRules"]
    )
    assert {"events:CreateConnection", "events:CreateApiDestination", "events:UpdateApiDestination"} <= _actions(
        statements["TenantDestinations"]
    )
    passing = statements["PassApiDestinationRole"]
    assert passing["Resource"] == {"Fn::GetAtt": ["ApiDestinationInvokeRole", "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}}
    role = resources["ApiDestinationInvokeRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (invoke,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert invoke["Action"] == "events:InvokeApiDestination"


def test_the_bus_and_both_event_dead_letter_queues_with_alarms(resources: dict[str, Any]) -> None:
    """A bus of the service's own; the tenant rules' DLQ takes EventBridge's messages (from our rules only); both
    the DLQ and the stream failure queue keep 14 days and alarm on the first message."""
    assert resources["EventBus"]["Type"] == "AWS::Events::EventBus"
    for queue in ("EventsDeadLetterQueue", "EventsStreamFailureQueue"):
        assert resources[queue]["Properties"]["MessageRetentionPeriod"] == 1_209_600
        alarm = resources[f"{queue}Alarm"]["Properties"]
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    (statement,) = resources["EventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert "rule/${EventBus}/msgcampaigns-*" in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert resources["EventsWorkerErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"] == {"Ref": "EventsWorker"}
    for fn in ("APIHandler", "EventsWorker"):
        variables = resources[fn]["Properties"]["Environment"]["Variables"]
        assert variables["EVENT_BUS_NAME"] == {"Ref": "EventBus"}
        assert variables["EVENT_DEAD_LETTER_ARN"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}


# ---------------------------------------------------------------------------------------------------- webhooks
WEBHOOK_BASE = {
    "Fn::If": ["HasWebhookBaseUrl", {"Ref": "WebhookBaseUrl"}, {"Fn::GetAtt": ["WebhooksUrl", "FunctionUrl"]}]
}


def test_the_webhooks_function_has_a_public_url_the_providers_signatures_authenticate(
    resources: dict[str, Any],
) -> None:
    """GIVEN the packaged template THEN the webhooks function (app.webhooks) has a function URL with no IAM auth,
    and both permissions a public function URL needs (since October 2025 InvokeFunction as well as
    InvokeFunctionUrl), each for anyone but only through the URL."""
    function = resources["Webhooks"]
    assert function["Properties"]["Handler"] == "app.webhooks"
    url = resources["WebhooksUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": ["Webhooks", "Arn"]}
    assert url["Properties"]["AuthType"] == "NONE"
    assert "Cors" not in url["Properties"]  # providers post server to server; no browser calls it
    permissions = {
        r["Properties"]["Action"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == {"Ref": "Webhooks"}
    }
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert permissions["lambda:InvokeFunctionUrl"]["Principal"] == "*"
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["Principal"] == "*"
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True  # not a public Invoke API


def test_every_url_given_to_a_provider_starts_at_the_webhook_base(resources: dict[str, Any]) -> None:
    """GIVEN the packaged template THEN every function but the webhooks one gets WEBHOOK_BASE_URL (the parameter, or
    the function URL); the webhooks function reads its own URL from SSM, by a name it is given as text, with the
    permission to read just that parameter."""
    functions = {k: v for k, v in resources.items() if v["Type"] in FUNCTION_TYPES}
    for logical_id, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        if logical_id == "Webhooks":
            continue
        assert variables["WEBHOOK_BASE_URL"] == WEBHOOK_BASE, logical_id
    own = resources["Webhooks"]["Properties"]["Environment"]["Variables"]
    assert own["WEBHOOK_BASE_URL"] == {"Fn::If": ["HasWebhookBaseUrl", {"Ref": "WebhookBaseUrl"}, ""]}
    parameter = resources["WebhookBaseUrlParameter"]
    assert parameter["Type"] == "AWS::SSM::Parameter"
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": ["WebhooksUrl", "FunctionUrl"]}
    assert own["WEBHOOK_BASE_URL_PARAMETER"] == parameter["Properties"]["Name"]  # text: no dependency on it
    role = resources[resources["Webhooks"]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert {"Ref": "WebhooksParameterPolicy"} in role["ManagedPolicyArns"]
    (statement,) = resources["WebhooksParameterPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ssm:GetParameter"
    name = parameter["Properties"]["Name"]["Fn::Sub"]
    assert statement["Resource"]["Fn::Sub"].endswith(":parameter" + name)
    # AND only the webhooks function may read it (no other role carries the policy)
    for logical_id, function in functions.items():
        other = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert ({"Ref": "WebhooksParameterPolicy"} in other["ManagedPolicyArns"]) == (logical_id == "Webhooks")


def test_cycle_check_catches_the_webhooks_url_in_the_webhooks_env(resources: dict[str, Any]) -> None:
    """Why the webhooks function reads its URL from SSM: its environment naming its own URL is a cycle."""
    patched = json.loads(json.dumps(resources))
    patched["Webhooks"]["Properties"]["Environment"]["Variables"]["WEBHOOK_BASE_URL"] = WEBHOOK_BASE
    cycle = find_cycle(dependency_graph(patched))
    assert cycle is not None and set(cycle) == {"Webhooks", "WebhooksUrl"}
    # AND why it names start_scheduled by name: StartScheduled's WEBHOOK_BASE_URL names the webhooks' URL
    patched = json.loads(json.dumps(resources))
    patched["Webhooks"]["Properties"]["Environment"]["Variables"]["SCHEDULER_TARGET_ARN"] = {
        "Fn::GetAtt": ["StartScheduled", "Arn"]
    }
    cycle = find_cycle(dependency_graph(patched))
    assert cycle is not None and {"Webhooks", "WebhooksUrl", "StartScheduled"} <= set(cycle)


def test_the_webhook_base_is_an_output_and_an_optional_parameter(template: dict[str, Any]) -> None:
    """The operator sees where the providers call (the base of the channel answers' webhook URLs), and may put a
    custom domain (or PublicBaseUrl, to stay on API Gateway REST) in front."""
    assert template["Outputs"]["WebhookBaseUrl"]["Value"] == WEBHOOK_BASE
    assert template["Outputs"]["WebhooksFunctionUrl"]["Value"] == {"Fn::GetAtt": ["WebhooksUrl", "FunctionUrl"]}
    parameter = template["Parameters"]["WebhookBaseUrl"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("https://hooks.example.com")
    assert not pattern.fullmatch("https://hooks.example.com/") and not pattern.fullmatch("http://hooks.example.com")
    assert template["Conditions"]["HasWebhookBaseUrl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebhookBaseUrl"}, ""]}]}
