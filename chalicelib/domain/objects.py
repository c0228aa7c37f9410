"""Where things live in the bucket (see chalicelib/adapters/blobs.py for the layout), and the error for an object
that is not there: pure names, no I/O, shared by the services and the bucket's adapter."""

from __future__ import annotations


def upload_key(tenant_id: str, upload_id: str) -> str:
    """Where the PBX's file lands."""
    return f"uploads/{tenant_id}/{upload_id}"


def processed_key(tenant_id: str, upload_id: str) -> str:
    """Where an imported contact list is kept, one contact per line."""
    return f"processed/{tenant_id}/{upload_id}.jsonl"


def media_key(tenant_id: str, upload_id: str, etag: str) -> str:
    """Where processed media is pinned: named after the ETag of the file it copies, outside `uploads/`."""
    return f"media/{tenant_id}/{upload_id}/{etag}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(tenant, upload) of an `uploads/` key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "uploads" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class BlobMissingError(LookupError):
    """The object is not (or no longer) in the bucket."""
