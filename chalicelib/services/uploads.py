"""Uploads: contact CSV files and MMS media, put straight into S3 with a presigned URL (or inline), then processed.

    POST /v1/uploads ──> awaiting_file ──PUT to S3, S3 event──> importing ──> ready | rejected
    POST /v1/uploads (text/csv inline) ─────────────────────────> importing ──> ready | rejected (in the request)

Media is checked on a copy made when it is processed (`media_key`, under `media/`, which no presigned URL names):
campaigns send that copy, so a PUT to the upload URL after processing (it works for an hour) changes nothing sent,
and S3's event for that PUT finds the upload done and is a no-op.

The contract shows `status` processing | ready | rejected; `stage` (awaiting_file, importing, done) is the extension
that says what "processing" is waiting for.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

from chalicelib.domain.contacts_csv import MAX_CSV_BYTES, CsvRejectedError, parse_contacts
from chalicelib.domain.errors import (
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
    UploadBusyError,
    UploadFinishedError,
)
from chalicelib.domain.ids import MAX_ID_CHARS
from chalicelib.domain.model import utc_iso
from chalicelib.domain.objects import BlobMissingError, media_key, parse_upload_key, processed_key, upload_key
from chalicelib.domain.uploads import CSV, CreateUpload, Upload, UploadOutcome, UploadStage, UploadStatus
from chalicelib.domain.uploads import MEDIA as MEDIA  # campaigns name both kinds as uploads.CSV, uploads.MEDIA
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log

MAX_MEDIA_BYTES = 100 * 1024 * 1024
MAX_INLINE_CSV_BYTES = 5 * 1024 * 1024
# "a filename under 127 characters": 126 at most.
MAX_FILENAME_CHARS = 126
PUT_URL_SECONDS = 3600
# Media replaced between its HEAD and its copy is looked at again, this many times in all.
PIN_ATTEMPTS = 3
# A contact's variables travel with its recipient item (DynamoDB items are at most 400 KB): keep them well under.
MAX_CONTACT_BYTES = 32 * 1024
# An import is retaken from a worker that has been silent this long (longer than the upload worker's 900 s timeout).
IMPORT_LEASE_SECONDS = 960
# The content types a contact CSV arrives with, as browsers and spreadsheets label it.
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "text/x-csv"})
_MIME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


def _check_filename(filename: str) -> str:
    name = filename.strip()
    if not name:
        raise UnprocessableError("filename is empty", code="invalid_filename", details=[{"field": "filename"}])
    if len(name) > MAX_FILENAME_CHARS:
        raise UnprocessableError(
            f"the filename has {len(name)} characters; it must be under 127",
            code="filename_too_long",
            details=[{"field": "filename", "length": len(name), "max": MAX_FILENAME_CHARS}],
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "/" in name or "\\" in name:
        raise UnprocessableError(
            "the filename must not contain slashes or control characters",
            code="invalid_filename",
            details=[{"field": "filename"}],
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnprocessableError(
            "the filename is not Unicode text", code="invalid_filename", details=[{"field": "filename"}]
        ) from None
    return name


def _check_size(kind: str, size: int) -> None:
    limit = MAX_CSV_BYTES if kind == CSV else MAX_MEDIA_BYTES
    if size > limit:
        what = "a contact CSV" if kind == CSV else "a media file"
        raise PayloadTooLargeError(
            f"{what} may be at most {limit // (1024 * 1024)} MB ({limit:,} bytes); this one is {size:,} bytes",
            details=[{"field": "size", "size": size, "max": limit}],
        )


def _check_content_type(kind: str, content_type: str) -> str:
    value = content_type.strip()
    base = value.split(";")[0].strip().lower()
    if not _MIME_RE.fullmatch(base):
        raise UnprocessableError(
            "content_type must be a media type such as image/png",
            code="invalid_content_type",
            details=[{"field": "content_type"}],
        )
    if kind == CSV and base not in CSV_TYPES:
        raise UnprocessableError(
            f"a contact CSV must be text/csv, not {base}",
            code="invalid_content_type",
            details=[{"field": "content_type", "allowed": sorted(CSV_TYPES)}],
        )
    return value


def view(upload: Upload) -> dict[str, Any]:
    """An upload as the API answers it."""
    out: dict[str, Any] = {
        "id": upload.upload_id,
        "kind": upload.kind,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "status": str(upload.status),
        "stage": str(upload.stage),
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "processed_at": upload.processed_at,
        "error": dict(upload.error) if upload.error is not None else None,
    }
    if upload.kind == CSV:
        out.update(rows=upload.rows, valid=upload.valid, invalid=upload.invalid, duplicates=upload.duplicates)
        out["columns"] = list(upload.columns)
        out["errors"] = [dict(e) for e in upload.errors]
    return out


def create_upload(deps: Deps, tenant_id: str, command: CreateUpload) -> dict[str, Any]:
    """Announce a file: answers a presigned PUT URL for it (the file never passes through the API)."""
    filename = _check_filename(command.filename)
    _check_size(command.kind, command.size)
    content_type = _check_content_type(command.kind, command.content_type)
    upload_id = deps.ids.new("upl")
    now = deps.clock.utcnow()
    upload = Upload(
        tenant_id=tenant_id,
        upload_id=upload_id,
        kind=command.kind,
        filename=filename,
        content_type=content_type,
        size=command.size,
        status=UploadStatus.PROCESSING,
        stage=UploadStage.AWAITING_FILE,
        created_at=utc_iso(now) or "",
        expires_at=utc_iso(now + timedelta(seconds=PUT_URL_SECONDS)),
    )
    deps.uploads.create(upload)
    url = deps.blobs.presigned_put(upload_key(tenant_id, upload_id), content_type, command.size, PUT_URL_SECONDS)
    log.info("upload announced", extra={"tenant_id": tenant_id, "upload_id": upload_id, "kind": command.kind})
    return {
        **view(upload),
        "upload_url": url,
        "upload_method": "PUT",
        "upload_headers": {"Content-Type": content_type},
    }


def create_inline_csv(deps: Deps, tenant_id: str, query: dict[str, str], data: bytes) -> dict[str, Any]:
    """A small contact CSV sent as the request body: stored and imported before the answer."""
    kind = query.get("kind", CSV)
    if kind != CSV:
        raise InvalidRequestError("only kind=contacts_csv may be sent inline", details=[{"field": "kind"}])
    raw_name = query.get("filename")
    if raw_name is None:
        raise InvalidRequestError("the filename query parameter is required", details=[{"field": "filename"}])
    filename = _check_filename(raw_name)
    if len(data) > MAX_INLINE_CSV_BYTES:
        raise PayloadTooLargeError(
            f"an inline CSV may be at most 5 MB ({MAX_INLINE_CSV_BYTES:,} bytes); larger files go through the "
            "upload URL (POST /v1/uploads with JSON)",
            details=[{"size": len(data), "max": MAX_INLINE_CSV_BYTES}],
        )
    upload_id = deps.ids.new("upl")
    now = deps.clock.utcnow()
    upload = Upload(
        tenant_id=tenant_id,
        upload_id=upload_id,
        kind=CSV,
        filename=filename,
        content_type="text/csv",
        size=len(data),
        status=UploadStatus.PROCESSING,
        stage=UploadStage.IMPORTING,
        lease_until=deps.clock.now() + IMPORT_LEASE_SECONDS,
        created_at=utc_iso(now) or "",
    )
    deps.uploads.create(upload)
    deps.blobs.put_bytes(upload_key(tenant_id, upload_id), data, "text/csv")
    outcome = replace(_import_csv(deps, tenant_id, upload_id, [data]), processed_at=utc_iso(deps.clock.utcnow()))
    return view(_finish(deps, upload, outcome))


def _finish(deps: Deps, upload: Upload, outcome: UploadOutcome) -> Upload:
    """Record an outcome; when another one was recorded first (or the upload is gone), the upload as it is."""
    try:
        return deps.uploads.finish(upload.tenant_id, upload.upload_id, outcome)
    except UploadFinishedError as lost:
        return lost.upload or upload


def get_upload(deps: Deps, tenant_id: str, upload_id: str) -> dict[str, Any]:
    """An upload and how its processing went."""
    upload = deps.uploads.get(tenant_id, upload_id)
    if upload is None:
        raise NotFoundError("no such upload")
    return view(_settle_expired(deps, upload))


def _settle_expired(deps: Deps, upload: Upload) -> Upload:
    """An upload whose URL expired (with a minute's grace) and whose file never came is rejected."""
    if not upload.url_expired(utc_iso(deps.clock.utcnow() - timedelta(seconds=60)) or ""):
        return upload
    if deps.blobs.head(upload_key(upload.tenant_id, upload.upload_id)) is not None:
        return upload  # the file came; its S3 event is on the way
    outcome = UploadOutcome.rejected("upload_expired", "the upload URL expired before a file was put to it")
    return _finish(deps, upload, replace(outcome, processed_at=utc_iso(deps.clock.utcnow())))


def ready_upload(deps: Deps, tenant_id: str, upload_id: str, kind: str, field: str) -> Upload:
    """An upload a campaign may use: this tenant's, of `kind`, processed and accepted; else a clear 422."""
    upload = deps.uploads.get(tenant_id, upload_id) if len(upload_id) <= MAX_ID_CHARS else None
    if upload is None:
        raise UnprocessableError(
            f"no upload {upload_id!r} for this tenant", code="upload_not_found", details=[{"field": field}]
        )
    if upload.kind != kind:
        wanted = "a contact CSV" if kind == CSV else "a media file"
        raise UnprocessableError(
            f"upload {upload_id!r} is not {wanted}",
            code="upload_wrong_kind",
            details=[{"field": field, "kind": upload.kind}],
        )
    upload = _settle_expired(deps, upload)
    error = dict(upload.error) if upload.error is not None else None
    if upload.status == UploadStatus.PROCESSING:
        raise UnprocessableError(
            f"upload {upload_id!r} is still being processed; try again when its status is ready",
            code="upload_not_ready",
            details=[{"field": field, "stage": str(upload.stage)}],
        )
    if upload.status != UploadStatus.READY:
        raise UnprocessableError(
            f"upload {upload_id!r} was rejected: {(error or {}).get('message', '')}",
            code="upload_rejected",
            details=[{"field": field, "error": error}],
        )
    return upload


def contacts(deps: Deps, tenant_id: str, upload_id: str) -> Iterator[tuple[str, dict[str, str]]]:
    """An imported CSV's distinct valid contacts in file order: (number, its non-empty variables). Streams."""
    columns: list[str] = []
    for line in deps.blobs.lines(processed_key(tenant_id, upload_id)):
        record = json.loads(line)
        if isinstance(record, dict):
            columns = list(record.get("columns") or [])
            continue
        number, values = record
        yield str(number), {c: v for c, v in zip(columns, values, strict=False) if v}


# ---------------------------------------------------------------------------------------------- processing
def handle_s3_notification(deps: Deps, body: str) -> None:
    """Process each new object an S3 event notification (delivered through SQS) reports."""
    try:
        event = json.loads(body)
    except ValueError:
        log.warning("upload queue: a message that is not JSON was dropped")
        return
    if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
        return  # S3 sends a test event when the notification is configured
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        from urllib.parse import unquote_plus

        key = unquote_plus(str(((record.get("s3") or {}).get("object") or {}).get("key", "")))
        parsed = parse_upload_key(key)
        if parsed is None:
            continue
        process_upload(deps, *parsed)


def process_upload(deps: Deps, tenant_id: str, upload_id: str) -> None:
    """Import or check an uploaded file once (a repeated event is a no-op)."""
    if deps.uploads.get(tenant_id, upload_id) is None:
        log.warning("an object with no upload record arrived; ignored", extra={"upload_id": upload_id})
        return
    try:
        upload = deps.uploads.begin_import(tenant_id, upload_id, deps.clock.now(), IMPORT_LEASE_SECONDS)
    except UploadBusyError:
        return  # imported already, or being imported by another worker
    key = upload_key(tenant_id, upload_id)
    head = deps.blobs.head(key)
    if head is None:
        outcome = UploadOutcome.rejected("file_missing", "the file is not in storage")
    elif upload.kind == CSV:
        if head["size"] > MAX_CSV_BYTES:
            outcome = UploadOutcome.rejected(
                "payload_too_large", f"a contact CSV may be at most 50 MB; this one is {head['size']:,} bytes"
            )
        else:
            outcome = _import_csv(deps, tenant_id, upload_id, deps.blobs.stream(key))
    else:
        outcome = _pin_media(deps, upload, head)
    _finish(deps, upload, replace(outcome, processed_at=utc_iso(deps.clock.utcnow())))
    log.info("upload processed", extra={"upload_id": upload_id, "status": str(outcome.status)})


def _pin_media(deps: Deps, upload: Upload, head: dict[str, Any] | None) -> UploadOutcome:
    """Copy media to a key no presigned URL names and describe the copy: what a campaign checks is what it sends.

    The upload URL takes PUTs for an hour, also after processing; a campaign sends the copy (`media_key`), so a later
    PUT changes neither what was checked nor what is sent. The copy is made only from the file that was looked at
    (its ETag), and its own size and type are what the upload reports.
    """
    tenant_id, upload_id = upload.tenant_id, upload.upload_id
    source = upload_key(tenant_id, upload_id)
    for _ in range(PIN_ATTEMPTS):
        if head is None:
            return UploadOutcome.rejected("file_missing", "the file is not in storage")
        if head["size"] > MAX_MEDIA_BYTES:
            return _too_large_media(head["size"])
        pinned = media_key(tenant_id, upload_id, head["etag"])
        copy = deps.blobs.head(pinned) if deps.blobs.copy(source, pinned, head["etag"]) else None
        if copy is not None:
            if copy["size"] > MAX_MEDIA_BYTES:
                return _too_large_media(copy["size"])
            return UploadOutcome(
                UploadStatus.READY,
                size=copy["size"],
                content_type=copy["content_type"] or upload.content_type,
                etag=copy["etag"],
                media_key=pinned,
            )
        head = deps.blobs.head(source)  # replaced (or removed) since it was looked at: look at what is there now
    return UploadOutcome.rejected("file_changing", "the file was replaced again and again while it was being checked")


def _too_large_media(size: int) -> UploadOutcome:
    return UploadOutcome.rejected(
        "payload_too_large", f"a media file may be at most 100 MB; this one is {size:,} bytes"
    )


class _VariablesTooLargeError(Exception):
    """A contact's other columns are too large to keep with it."""


def _import_csv(deps: Deps, tenant_id: str, upload_id: str, chunks: Iterable[bytes]) -> UploadOutcome:
    """Parse a contact CSV into the processed contact list (spooled through a temporary file, never all in memory);
    returns the upload's outcome (the caller stamps `processed_at`).

    The list is JSON lines: first `{"columns": [...]}` (the variable columns, once), then `[number, [values]]` per
    contact, values by position with trailing empties left out, so the list is never much larger than the CSV.
    """
    columns: list[str] | None = None
    with tempfile.TemporaryFile() as spool:

        def keep(number: str, variables: dict[str, str]) -> None:
            nonlocal columns
            if columns is None:
                columns = list(variables)
                spool.write(json.dumps({"columns": columns}, ensure_ascii=False).encode() + b"\n")
            values = [variables.get(c, "") for c in columns]
            while values and not values[-1]:
                values.pop()
            line = json.dumps([number, values], ensure_ascii=False).encode()
            if len(line) > MAX_CONTACT_BYTES:
                raise _VariablesTooLargeError(number)
            spool.write(line + b"\n")

        try:
            report = parse_contacts(chunks, keep)
        except CsvRejectedError as exc:
            return UploadOutcome.rejected(exc.code, exc.message, exc.details)
        except _VariablesTooLargeError as exc:
            message = (
                f"the other columns of contact {exc.args[0]} hold more than {MAX_CONTACT_BYTES // 1024} KB; "
                "a contact's variables are kept with each message and must be smaller"
            )
            details = [{"number": exc.args[0], "max_bytes": MAX_CONTACT_BYTES}]
            return UploadOutcome.rejected("contact_too_large", message, details)
        except BlobMissingError:
            return UploadOutcome.rejected("file_missing", "the file is not in storage")
        if report.invalid:
            # "Every number must be E.164": the file is refused whole, with the rows to fix.
            message = f"{report.invalid} of {report.rows} rows have a number that is not a valid E.164 number"
            return UploadOutcome.rejected("invalid_phone_number", message, report.errors).with_report(report.as_dict())
        spool.seek(0)
        deps.blobs.put_file(processed_key(tenant_id, upload_id), spool, "application/x-ndjson")
    return UploadOutcome(UploadStatus.READY).with_report(report.as_dict())
