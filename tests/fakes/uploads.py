"""A fake of the Uploads port, with the same stage machine and leases."""

from __future__ import annotations

from chalicelib.domain.errors import UploadBusyError, UploadFinishedError, UploadIdTakenError
from chalicelib.domain.uploads import Upload, UploadOutcome


class FakeUploads:
    """Upload records in a dict."""

    def __init__(self) -> None:
        self.uploads: dict[tuple[str, str], Upload] = {}

    def create(self, upload: Upload) -> None:
        """Store a new upload; UploadIdTakenError when the id exists."""
        if (upload.tenant_id, upload.upload_id) in self.uploads:
            raise UploadIdTakenError("upload id collision")
        self.uploads[(upload.tenant_id, upload.upload_id)] = upload

    def get(self, tenant_id: str, upload_id: str) -> Upload | None:
        """A tenant's upload."""
        return self.uploads.get((tenant_id, upload_id))

    def begin_import(self, tenant_id: str, upload_id: str, now: float, lease_seconds: int) -> Upload:
        """Take it for processing; UploadBusyError when it is done or another worker's lease is alive."""
        upload = self.uploads.get((tenant_id, upload_id))
        if upload is None or not upload.may_begin_import(now):
            raise UploadBusyError("the upload is processed, or being processed", upload=upload)
        taken = upload.importing(now + lease_seconds)
        self.uploads[(tenant_id, upload_id)] = taken
        return taken

    def finish(self, tenant_id: str, upload_id: str, outcome: UploadOutcome) -> Upload:
        """Record its outcome once; UploadFinishedError when one is recorded already (or it is gone)."""
        upload = self.uploads.get((tenant_id, upload_id))
        if upload is None or not upload.may_finish():
            raise UploadFinishedError("the upload's outcome is recorded already", upload=upload)
        done = upload.finished(outcome)
        self.uploads[(tenant_id, upload_id)] = done
        return done
