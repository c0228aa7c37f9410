"""Status callbacks under the table's faults (devstack/chaos.py's hook on the app's DynamoDB client, over moto): a
report that cannot be written is refused with 503, so the provider posts it again, and applied once when it can."""

from __future__ import annotations

from typing import Any

from devstack.chaos import Chaos, ChaosConfig
from tests.conftest import Api, Env
from tests.functional.test_webhooks import NUMBERS, callback_params, post_callback, recipient, result, sent

__all__ = ["sent"]  # the fixture, used by name


def test_a_report_whose_transaction_keeps_conflicting_is_answered_503_then_applied_once_on_the_retry(
    client: Any, api: Api, sent: dict[str, Any], env: Env
) -> None:
    # GIVEN a sent message, and a table that refuses every transaction with TransactionConflict
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    params = callback_params(message, "delivered")
    chaos = Chaos(ChaosConfig(conflict=1.0, seed=1))
    table = env.deps.campaigns.table.db
    chaos.install_table(table)
    try:
        # WHEN Twilio reports it delivered
        status, answer = post_callback(client, message["status_callback"], params)
    finally:
        chaos.uninstall_table(table)
    # THEN the report is refused as try-again, never a 2xx for a report not applied, and nothing moved
    assert chaos.counts["conflicts"] > 1  # the service retried its transaction before giving up
    assert status == 503 and answer["error"]["code"] == "try_again"
    assert recipient(api, cid, NUMBERS[0])["status"] == "sent"
    assert result(api, cid)["delivered"] == 0
    # WHEN Twilio posts it again (the table takes writes again), and once more (a replay)
    for _ in range(2):
        status, _ = post_callback(client, message["status_callback"], params)
        assert status == 204
    # THEN it is applied, and counted once
    assert recipient(api, cid, NUMBERS[0])["status"] == "delivered"
    assert result(api, cid)["delivered"] == 1
