"""Upload records (the files themselves are in the bucket).

    TENANT#{tid}   UPLOAD#{uid}   upload: kind, filename, status, stage, lease_until, the CSV report or the pinned media

The stage machine is drawn in chalicelib/domain/uploads.py; each move is one conditional update named below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamo.table import ConditionFailed, Table, tenant_pk
from chalicelib.domain.errors import UploadBusyError, UploadFinishedError, UploadIdTakenError
from chalicelib.domain.uploads import Upload, UploadOutcome, UploadStage, UploadStatus

# Named condition parts.
ITEM_IS_NEW = "attribute_not_exists(pk)"
AWAITING_FILE = "stage = :awaiting"
IMPORT_ABANDONED = "(stage = :importing AND lease_until < :now)"
NOT_DONE = "stage IN (:importing, :awaiting)"


def upload_sk(upload_id: str) -> str:
    """Sort key of an upload in its tenant's partition."""
    return f"UPLOAD#{upload_id}"


def upload_from_item(item: Mapping[str, Any]) -> Upload:
    """An upload item as an Upload."""
    return Upload(
        tenant_id=str(item["tenant_id"]),
        upload_id=str(item["upload_id"]),
        kind=str(item["kind"]),
        filename=str(item["filename"]),
        content_type=str(item["content_type"]),
        size=int(item["size"]) if item.get("size") is not None else None,
        status=UploadStatus(item["status"]),
        stage=UploadStage(item["stage"]),
        created_at=str(item["created_at"]),
        expires_at=item.get("expires_at"),
        processed_at=item.get("processed_at"),
        error=item.get("error"),
        lease_until=float(item["lease_until"]) if item.get("lease_until") is not None else None,
        rows=int(item.get("rows", 0)),
        valid=int(item.get("valid", 0)),
        invalid=int(item.get("invalid", 0)),
        duplicates=int(item.get("duplicates", 0)),
        columns=tuple(item.get("columns") or ()),
        errors=tuple(item.get("errors") or ()),
        etag=item.get("etag"),
        media_key=item.get("media_key"),
    )


def upload_item(upload: Upload) -> dict[str, Any]:
    """A new Upload as its table item (only what an announced upload has)."""
    return {
        "pk": tenant_pk(upload.tenant_id),
        "sk": upload_sk(upload.upload_id),
        "type": "upload",
        "upload_id": upload.upload_id,
        "tenant_id": upload.tenant_id,
        "kind": upload.kind,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "status": str(upload.status),
        "stage": str(upload.stage),
        "lease_until": upload.lease_until,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
    }


class UploadRepository:
    """Upload records over the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, upload: Upload) -> None:
        """Store a new upload record; UploadIdTakenError when the id exists."""
        try:
            # Closes: an id given twice (a new upload must never reset one being processed).
            self.table.put(upload_item(upload), ITEM_IS_NEW)
        except ConditionFailed as exc:
            raise UploadIdTakenError("upload id collision") from exc

    def get(self, tenant_id: str, upload_id: str) -> Upload | None:
        """A tenant's upload."""
        item = self.table.get(tenant_pk(tenant_id), upload_sk(upload_id))
        return upload_from_item(item) if item else None

    def begin_import(self, tenant_id: str, upload_id: str, now: float, lease_seconds: int) -> Upload:
        """Take an upload for processing, leased for `lease_seconds`; the upload as taken.

        UploadBusyError (with the upload as it is) when it is done, or another worker's lease on it is alive.
        """
        try:
            new = self.table.update(
                {"pk": tenant_pk(tenant_id), "sk": upload_sk(upload_id)},
                "SET stage = :importing, lease_until = :until",
                # Closes: S3's at-least-once events (and SQS redelivery) importing one file twice at once, while
                # still letting the next delivery retake the import of a worker that died (its lease expired).
                f"{AWAITING_FILE} OR {IMPORT_ABANDONED}",
                {":importing": "importing", ":awaiting": "awaiting_file", ":until": now + lease_seconds, ":now": now},
                want_old=True,
                want_new=True,
            )
        except ConditionFailed as exc:
            old = exc.item("item")
            raise UploadBusyError(
                "the upload is processed, or being processed", upload=upload_from_item(old) if old else None
            ) from exc
        assert new is not None
        return upload_from_item(new)

    def finish(self, tenant_id: str, upload_id: str, outcome: UploadOutcome) -> Upload:
        """Record the outcome of processing an upload, once; the upload as it is now.

        UploadFinishedError (with the upload as it is, None when it is gone) when an outcome is recorded already.
        """
        fields = outcome.fields()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values.update({":done": "done", ":importing": "importing", ":awaiting": "awaiting_file"})
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))] + ["stage = :done"]
        try:
            new = self.table.update(
                {"pk": tenant_pk(tenant_id), "sk": upload_sk(upload_id)},
                "SET " + ", ".join(sets) + " REMOVE lease_until",
                # Closes: two outcomes for one upload (an expired URL's rejection racing the late file's import).
                NOT_DONE,
                values,
                names,
                want_old=True,
                want_new=True,
            )
        except ConditionFailed as exc:
            old = exc.item("item")
            raise UploadFinishedError(
                "the upload's outcome is recorded already", upload=upload_from_item(old) if old else None
            ) from exc
        assert new is not None
        return upload_from_item(new)
