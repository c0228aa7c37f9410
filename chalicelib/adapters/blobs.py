"""S3 adapter: the bucket that holds uploads (raw and processed), MMS media and phonebook contact lists.

Keys:

    uploads/{tenant}/{upload}        the file as the PBX put it (presigned PUT, or the inline CSV body)
    processed/{tenant}/{upload}.jsonl  an imported contact CSV: one {"number": ..., "variables": {...}} per line
    media/{tenant}/{upload}/{etag}   MMS media as checked: a copy made when the upload was processed, which no
                                     presigned PUT names (a later PUT to the upload URL leaves it as it is)
    phonebooks/{tenant}/{phonebook}/{version}.json  a phonebook's contacts, one object per PUT
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO, Any

from botocore.exceptions import ClientError

from chalicelib.domain.objects import (
    BlobMissingError,
    media_key,
    parse_upload_key,
    processed_key,
    upload_key,
)

__all__ = ["READ_CHUNK", "BlobMissingError", "Blobs", "media_key", "parse_upload_key", "processed_key", "upload_key"]

READ_CHUNK = 1024 * 1024


class Blobs:
    """The service's bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def presigned_put(self, key: str, content_type: str, size: int, seconds: int) -> str:
        """A SigV4 URL that lets its holder PUT exactly `size` bytes of `content_type` at `key`."""
        url: str = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=seconds,
            HttpMethod="PUT",
        )
        return url

    def presigned_get(self, key: str, seconds: int) -> str:
        """A SigV4 URL that lets its holder GET `key` for `seconds`."""
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )
        return url

    def head(self, key: str) -> dict[str, Any] | None:
        """Size, content type and ETag (without its quotes) of an object, or None when it is not there."""
        try:
            out = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return {
            "size": int(out.get("ContentLength", 0)),
            "content_type": out.get("ContentType", ""),
            "etag": str(out.get("ETag", "")).strip('"'),
        }

    def copy(self, source: str, key: str, if_etag: str) -> bool:
        """Copy an object within the bucket, server-side, keeping its content type; only while the source still has
        ETag `if_etag` (False when it has been replaced since, or is gone)."""
        try:
            self._s3.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": source},
                CopySourceIfMatch=f'"{if_etag}"',
                MetadataDirective="COPY",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("412", "PreconditionFailed", "404", "NoSuchKey"):
                return False
            raise
        return True

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small object."""
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Store a file of any size (multipart when large), streaming from `fileobj`."""
        self._s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get_bytes(self, key: str) -> bytes:
        """A whole (small) object."""
        return b"".join(self.stream(key))

    def _body(self, key: str) -> Any:
        try:
            out = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissingError(key) from exc
            raise
        return out["Body"]

    def stream(self, key: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """An object's bytes in chunks, never the whole object in memory."""
        body = self._body(key)
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def lines(self, key: str) -> Iterator[bytes]:
        """An object's lines (without line ends), streamed."""
        body = self._body(key)
        try:
            for line in body.iter_lines(chunk_size=READ_CHUNK):
                if line:
                    yield line
        finally:
            body.close()

    def delete(self, *keys: str) -> None:
        """Remove objects (missing ones are fine)."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            with contextlib.suppress(ClientError):
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`."""
        out: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            out.extend(o["Key"] for o in page.get("Contents", []))
        return out
