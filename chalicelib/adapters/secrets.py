"""Secrets Manager adapter: channel credentials live here, never in the table and never in an answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

_CACHE_SECONDS = 300.0


class SecretStore:
    """Channel credentials, one secret per channel, cached briefly per Lambda container."""

    def __init__(self, client: Any, prefix: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._sm = client
        self._prefix = prefix
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def name(self, tenant_id: str, channel_id: str) -> str:
        """The secret's name."""
        return f"{self._prefix}{tenant_id}/{channel_id}"

    def put(self, tenant_id: str, channel_id: str, credentials: dict[str, str]) -> None:
        """Create or replace a channel's credentials."""
        name = self.name(tenant_id, channel_id)
        body = json.dumps(credentials)
        try:
            self._sm.create_secret(Name=name, SecretString=body, Tags=[{"Key": "tenant", "Value": tenant_id}])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            self._sm.put_secret_value(SecretId=name, SecretString=body)
        self._cache[name] = (self._clock(), dict(credentials))

    def get(self, tenant_id: str, channel_id: str) -> dict[str, str] | None:
        """A channel's credentials, or None when it has none."""
        name = self.name(tenant_id, channel_id)
        hit = self._cache.get(name)
        if hit and self._clock() - hit[0] < _CACHE_SECONDS:
            return hit[1]
        try:
            out = self._sm.get_secret_value(SecretId=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise
        creds = json.loads(out["SecretString"])
        self._cache[name] = (self._clock(), creds)
        return dict(creds)

    def delete(self, tenant_id: str, channel_id: str) -> None:
        """Delete a channel's credentials (with Secrets Manager's recovery window)."""
        name = self.name(tenant_id, channel_id)
        self._cache.pop(name, None)
        try:
            self._sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
