"""The local stack's chaos (devstack/chaos.py): its faults are what botocore and the pump see from AWS."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.chaos import Chaos, ChaosConfig, Killed


def offline_dynamodb() -> object:
    """A DynamoDB client pointed at nothing: every answer it gets comes from the chaos's hook."""
    return boto3.session.Session().client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=1),
    )


def test_the_config_reads_rates_and_refuses_unknown_faults() -> None:
    # GIVEN / WHEN the CHAOS text  THEN each rate is read, and a typo or a rate above 1 is refused
    config = ChaosConfig.parse("duplicate=0.05,kill=0.02,conflict=0.1,throttle=0.02,visibility=7,seed=1")
    assert (config.duplicate, config.kill, config.conflict, config.throttle) == (0.05, 0.02, 0.1, 0.02)
    assert (config.visibility, config.seed) == (7, 1)
    with pytest.raises(ValueError, match="unknown fault"):
        ChaosConfig.parse("dupliate=0.05")
    with pytest.raises(ValueError, match="rate"):
        ChaosConfig.parse("kill=2")


def test_a_conflict_is_a_transaction_cancelled_with_one_transaction_conflict_reason_per_item() -> None:
    # GIVEN a client whose every transaction conflicts
    client = offline_dynamodb()
    Chaos(ChaosConfig(conflict=1.0, seed=1)).install_table(client)
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": str(i)}}}} for i in range(3)]
    # WHEN it writes a transaction of three items
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=items)  # type: ignore[attr-defined]
    # THEN botocore raises DynamoDB's TransactionCanceledException, its reasons as DynamoDB gives them
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    codes = [r["Code"] for r in refused.value.response["CancellationReasons"]]  # type: ignore[typeddict-item]
    assert len(codes) == 3 and codes.count("TransactionConflict") == 1 and codes.count("None") == 2


def test_a_throttle_is_retried_by_botocore_as_dynamodbs_own() -> None:
    # GIVEN a client whose every call is throttled
    client = offline_dynamodb()
    chaos = Chaos(ChaosConfig(throttle=1.0, seed=1))
    chaos.install_table(client)
    # WHEN it reads
    with pytest.raises(ClientError) as refused:
        client.get_item(TableName="t", Key={"pk": {"S": "1"}})  # type: ignore[attr-defined]
    # THEN it is a throttle, seen by each of botocore's attempts (retried, as DynamoDB's are)
    assert refused.value.response["Error"]["Code"] in ("ProvisionedThroughputExceededException", "ThrottlingException")
    assert chaos.counts["throttles"] == 3  # the first attempt and max_attempts (2) retries


def test_a_killed_invocation_dies_at_its_point_and_at_every_point_after() -> None:
    # GIVEN an invocation of the sender marked to die (rate 1)
    chaos = Chaos(ChaosConfig(kill=1.0, seed=1))
    passed = 0
    # WHEN it passes its points
    with pytest.raises(Killed), chaos.invocation("send_worker"):
        for _ in range(100):
            chaos.point()
            passed += 1
    # THEN it died at one of them, and a later point of the same invocation dies too
    assert passed < 100 and chaos.counts["killed"] == 1
    # AND other functions are never killed
    with chaos.invocation("upload_worker"):
        for _ in range(100):
            chaos.point()
