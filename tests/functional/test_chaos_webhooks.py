"""Status callbacks under the table's faults (devstack/chaos.py's hook on the app's DynamoDB client, over moto): a
report that cannot be written is kept on the send queue before it is answered, and applied once when it can."""

from __future__ import annotations

from typing import Any

from devstack.chaos import Chaos, ChaosConfig
from tests.conftest import Api, Env
from tests.functional.test_webhooks import NUMBERS, callback_params, post_callback, recipient, result, sent

__all__ = ["sent"]  # the fixture, used by name


def test_a_report_whose_transaction_keeps_conflicting_is_kept_on_the_queue_then_applied_once(
    client: Any, api: Api, sent: dict[str, Any], env: Env, pump: Any
) -> None:
    # GIVEN a sent message, and a table that refuses every transaction with TransactionConflict
    cid = sent["campaign"]["id"]
    message = sent["messages"][NUMBERS[0]]
    params = callback_params(message, "delivered")
    chaos = Chaos(ChaosConfig(conflict=1.0, seed=1))
    table = env.deps.campaigns.table.db
    chaos.install_table(table)
    try:
        # WHEN Twilio reports it delivered (Twilio would not post it again after a 5xx)
        status, _ = post_callback(client, message["status_callback"], params)
        # THEN the service tried its transaction again and again, then kept the report on the queue and answered it
        assert chaos.counts["conflicts"] > 1
        assert status == 204
        assert recipient(api, cid, NUMBERS[0])["status"] == "sent"
        # AND while the table still refuses, the kept report is not applied (it stays on the queue)
        pump.pump_queues_once()
        assert recipient(api, cid, NUMBERS[0])["status"] == "sent"
    finally:
        chaos.uninstall_table(table)
    # WHEN the table takes writes again and the queue delivers the report again (SQS: after its retry delay), and
    # Twilio replays the callback too
    pump.drain(timeout=90)
    status, _ = post_callback(client, message["status_callback"], params)
    assert status == 204
    # THEN it is applied, and counted once
    assert recipient(api, cid, NUMBERS[0])["status"] == "delivered"
    assert result(api, cid)["delivered"] == 1
