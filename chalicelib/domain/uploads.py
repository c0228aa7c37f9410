"""Uploads (contact CSV files and MMS media), their status machine, and the command that announces one. No I/O.

    announced ──> awaiting_file ──file arrives──> importing ──> done (status ready | rejected)
                       │                             │ lease expired (the worker died)
                       │ URL expired, no file        └──> importing again (the next delivery of the event)
                       └──> done (rejected: upload_expired)
    inline CSV ───────────────────────────────────> importing ──> done (in the request)

The contract shows `status` (processing | ready | rejected); `stage` says what "processing" is waiting for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

CSV = "contacts_csv"
MEDIA = "media"


class UploadStatus(StrEnum):
    """What the contract shows of an upload's processing."""

    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"


class UploadStage(StrEnum):
    """Where an upload's processing is (the contract's extension of `processing`)."""

    AWAITING_FILE = "awaiting_file"
    IMPORTING = "importing"
    DONE = "done"


@dataclass(frozen=True)
class CreateUpload:
    """Command: announce a file that will be PUT to a presigned URL."""

    kind: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class UploadOutcome:
    """How processing an upload ended: what `finish` records on it (None: not recorded)."""

    status: UploadStatus
    error: Mapping[str, Any] | None = None
    processed_at: str | None = None
    # A contact CSV's report.
    rows: int | None = None
    valid: int | None = None
    invalid: int | None = None
    duplicates: int | None = None
    columns: Sequence[str] | None = None
    errors: Sequence[Mapping[str, Any]] | None = None
    # Media, as pinned (the copy a campaign sends).
    size: int | None = None
    content_type: str | None = None
    etag: str | None = None
    media_key: str | None = None

    @classmethod
    def rejected(cls, code: str, message: str, details: list[Any] | None = None) -> UploadOutcome:
        """Refused, with the reason the API shows in `error`."""
        return cls(UploadStatus.REJECTED, error={"code": code, "message": message, "details": details or []})

    def with_report(self, report: Mapping[str, Any]) -> UploadOutcome:
        """This outcome with a contact CSV's report (rows, valid, invalid, duplicates, columns, errors)."""
        return replace(
            self,
            rows=int(report["rows"]),
            valid=int(report["valid"]),
            invalid=int(report["invalid"]),
            duplicates=int(report["duplicates"]),
            columns=list(report["columns"]),
            errors=[dict(e) for e in report["errors"]],
        )

    def fields(self) -> dict[str, Any]:
        """The attributes it sets, in declaration order (the stage is the repository's)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "status":
                value = str(value)
            elif f.name in ("columns", "errors"):
                value = [dict(v) if isinstance(v, Mapping) else v for v in value]
            elif f.name == "error":
                value = dict(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class Upload:
    """An upload as stored."""

    tenant_id: str
    upload_id: str
    kind: str
    filename: str
    content_type: str
    size: int | None
    status: UploadStatus
    stage: UploadStage
    created_at: str
    expires_at: str | None = None
    processed_at: str | None = None
    error: Mapping[str, Any] | None = None
    lease_until: float | None = None
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    columns: tuple[str, ...] = ()
    errors: tuple[Mapping[str, Any], ...] = field(default=())
    etag: str | None = None
    media_key: str | None = None

    def may_begin_import(self, now: float) -> bool:
        """Whether a worker may take it for processing now: waiting for its file, or its last import died."""
        if self.stage == UploadStage.AWAITING_FILE:
            return True
        return self.stage == UploadStage.IMPORTING and self.lease_until is not None and self.lease_until < now

    def may_finish(self) -> bool:
        """Whether an outcome may still be recorded (only once: while awaited or being imported)."""
        return self.stage in (UploadStage.AWAITING_FILE, UploadStage.IMPORTING)

    def url_expired(self, cutoff: str) -> bool:
        """Whether it still waits for a file whose URL expired before `cutoff` (an RFC 3339 time)."""
        return self.stage == UploadStage.AWAITING_FILE and bool(self.expires_at) and str(self.expires_at) < cutoff

    def importing(self, until: float) -> Upload:
        """This upload taken for processing, with a lease until `until`."""
        return replace(self, stage=UploadStage.IMPORTING, lease_until=until)

    def finished(self, outcome: UploadOutcome) -> Upload:
        """This upload with `outcome` recorded."""
        changes: dict[str, Any] = {k: v for k, v in outcome.fields().items()}
        changes["status"] = UploadStatus(changes["status"])
        if "columns" in changes:
            changes["columns"] = tuple(changes["columns"])
        if "errors" in changes:
            changes["errors"] = tuple(changes["errors"])
        return replace(self, **changes, stage=UploadStage.DONE, lease_until=None)
