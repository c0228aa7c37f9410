"""devstack/moto_speed.py fits the installed moto, and moto keeps DynamoDB's semantics with it applied."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import moto_speed
from tests.conftest import Env


def test_the_patches_fit_the_installed_moto() -> None:
    # GIVEN the moto requirements-dev.lock installs WHEN the patched functions are compared with what the patch expects
    # THEN its version, their sources and Table.query's parameters are those the patch was written for
    assert moto_speed.patch_problems() == []


def test_a_moto_that_differs_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a moto other than the one the patch was written for (another version; other code in a patched function)
    monkeypatch.setattr(moto_speed, "MOTO_VERSION", "5.0.0")
    name = "moto.dynamodb.models.table.Table.query"
    monkeypatch.setitem(moto_speed.PATCHED_SOURCES, name, "0" * 64)
    # WHEN the fit is checked THEN both are named
    problems = moto_speed.patch_problems()
    assert len(problems) == 2, problems
    assert "written for 5.0.0" in problems[0]
    assert name in problems[1]


def _table(env: Env) -> Any:
    return boto3.client("dynamodb"), env.resources.table_name


def test_a_cancelled_transaction_leaves_every_item_as_it_was(env: Env) -> None:
    # GIVEN moto with the patch (it backs up only the items a transaction touches) and an item
    assert moto_speed._applied
    db, table = _table(env)
    db.put_item(TableName=table, Item={"pk": {"S": "T#1"}, "sk": {"S": "A"}, "n": {"N": "1"}})
    # WHEN a transaction updates it, puts another, and fails its last condition
    with pytest.raises(ClientError) as failed:
        db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#1"}, "sk": {"S": "A"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "T#1"}, "sk": {"S": "B"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#1"}, "sk": {"S": "C"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    # THEN it is cancelled and nothing of it stays: the item keeps its value, the put is not there
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = db.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "T#1"}},
    )["Items"]
    assert items == [{"pk": {"S": "T#1"}, "sk": {"S": "A"}, "n": {"N": "1"}}]


def _stream_records(table: str) -> list[dict[str, Any]]:
    """Every record on the table's stream so far."""
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_a_cancelled_transaction_leaves_nothing_on_the_stream(env: Env) -> None:
    # GIVEN the table's stream after one item was put
    db, table = _table(env)
    db.put_item(TableName=table, Item={"pk": {"S": "T#2"}, "sk": {"S": "A"}, "n": {"N": "1"}})
    before = _stream_records(table)
    # WHEN a transaction that puts an item and updates the first is cancelled by its last condition
    with pytest.raises(ClientError):
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "T#2"}, "sk": {"S": "B"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#2"}, "sk": {"S": "A"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "T#2"}, "sk": {"S": "C"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    # THEN the stream has no record of it (DynamoDB streams only what was written), and the next write streams as
    # the next record
    assert _stream_records(table) == before
    db.put_item(TableName=table, Item={"pk": {"S": "T#2"}, "sk": {"S": "D"}})
    after = _stream_records(table)
    assert len(after) == len(before) + 1 and after[-1]["eventName"] == "INSERT"
    assert after[-1]["dynamodb"]["Keys"]["sk"] == {"S": "D"}


def test_queries_narrowed_by_the_sort_key_answer_as_dynamodb_does(env: Env) -> None:
    # GIVEN moto with the patch (a base-table query sees only its partition, narrowed by the sort-key condition)
    db, table = _table(env)
    for pk in ("Q#1", "Q#2"):
        for sk in ("R#001", "R#002", "R#003", "R#004", "X#001"):
            item = {"pk": {"S": pk}, "sk": {"S": sk}, "gsi1pk": {"S": "G"}, "gsi1sk": {"S": f"{pk}/{sk}"}}
            db.put_item(TableName=table, Item=item)

    def sks(condition: str, values: dict[str, Any], **kwargs: Any) -> list[str]:
        found = db.query(TableName=table, KeyConditionExpression=condition, ExpressionAttributeValues=values, **kwargs)
        return [i["sk"]["S"] for i in found["Items"]]

    # WHEN it is queried by begins_with, BETWEEN, backwards with a limit, and through the index
    prefix = sks("pk = :pk AND begins_with(sk, :p)", {":pk": {"S": "Q#1"}, ":p": {"S": "R#"}})
    bounds = {":pk": {"S": "Q#2"}, ":a": {"S": "R#002"}, ":b": {"S": "R#003"}}
    between = sks("pk = :pk AND sk BETWEEN :a AND :b", bounds)
    backwards = sks("pk = :pk", {":pk": {"S": "Q#1"}}, ScanIndexForward=False, Limit=2)
    index = db.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    # THEN each answers exactly the items DynamoDB would, in its order
    assert prefix == ["R#001", "R#002", "R#003", "R#004"]
    assert between == ["R#002", "R#003"]
    assert backwards == ["X#001", "R#004"]
    assert len(index) == 10
