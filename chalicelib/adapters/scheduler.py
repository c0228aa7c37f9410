"""EventBridge Scheduler adapter: one one-time schedule per scheduled campaign (the minute tick is the net)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


class CampaignScheduler:
    """Creates and deletes the one-time schedule that starts a campaign at its time."""

    def __init__(self, client: Any, group: str, target_arn: str, role_arn: str) -> None:
        self._scheduler = client
        self._group = group
        self._target = target_arn
        self._role = role_arn

    @staticmethod
    def name(campaign_id: str) -> str:
        """The schedule's name."""
        return f"start-{campaign_id}"[:64]

    def schedule_start(self, tenant_id: str, campaign_id: str, at: datetime) -> None:
        """Have the start function invoked for this campaign at `at` (UTC)."""
        when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        kwargs: dict[str, Any] = {
            "Name": self.name(campaign_id),
            "GroupName": self._group,
            "ScheduleExpression": f"at({when})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self._target,
                "RoleArn": self._role,
                "Input": json.dumps({"tenant_id": tenant_id, "campaign_id": campaign_id}),
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            },
        }
        try:
            self._scheduler.create_schedule(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            self._scheduler.update_schedule(**kwargs)

    def cancel(self, campaign_id: str) -> None:
        """Remove a campaign's schedule, if it still exists."""
        try:
            self._scheduler.delete_schedule(Name=self.name(campaign_id), GroupName=self._group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
