"""The Uploads port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.errors import UploadBusyError, UploadFinishedError, UploadIdTakenError
from chalicelib.domain.uploads import Upload, UploadOutcome, UploadStage, UploadStatus
from chalicelib.services.ports import Uploads
from tests.conftest import Env
from tests.fakes.uploads import FakeUploads

NOW = 1_796_000_000.0
LEASE = 960


def upload(upload_id: str = "upl_1", **changes: Any) -> Upload:
    """An announced contact CSV."""
    values: dict[str, Any] = {
        "tenant_id": "tn_a",
        "upload_id": upload_id,
        "kind": "contacts_csv",
        "filename": "contacts.csv",
        "content_type": "text/csv",
        "size": 1234,
        "status": UploadStatus.PROCESSING,
        "stage": UploadStage.AWAITING_FILE,
        "created_at": "2026-12-01T08:00:00Z",
        "expires_at": "2026-12-01T09:00:00Z",
    }
    values.update(changes)
    return Upload(**values)


REPORT = {"rows": 3, "valid": 2, "invalid": 0, "duplicates": 1, "columns": ["name"], "errors": []}


class UploadsContract:
    """What every Uploads implementation does."""

    @pytest.fixture
    def repo(self) -> Uploads:
        raise NotImplementedError

    def test_an_announced_upload_reads_back(self, repo: Uploads) -> None:
        # GIVEN an announced upload THEN it reads back as stored, for its tenant only
        repo.create(upload())
        assert repo.get("tn_a", "upl_1") == upload()
        assert repo.get("tn_b", "upl_1") is None

    def test_an_id_given_twice_never_resets_the_first(self, repo: Uploads) -> None:
        # GIVEN an upload being imported WHEN its id is announced again THEN UploadIdTakenError and it is unchanged
        repo.create(upload())
        taken = repo.begin_import("tn_a", "upl_1", NOW, LEASE)
        with pytest.raises(UploadIdTakenError):
            repo.create(upload())
        assert repo.get("tn_a", "upl_1") == taken

    def test_the_import_is_taken_once_while_its_lease_lives(self, repo: Uploads) -> None:
        # GIVEN an upload waiting for its file WHEN two deliveries of its S3 event take it THEN only the first does
        repo.create(upload())
        taken = repo.begin_import("tn_a", "upl_1", NOW, LEASE)
        assert taken == upload(stage=UploadStage.IMPORTING, lease_until=NOW + LEASE)
        with pytest.raises(UploadBusyError) as busy:
            repo.begin_import("tn_a", "upl_1", NOW + 1, LEASE)
        assert busy.value.upload == taken

    def test_a_dead_workers_import_is_taken_again_after_its_lease(self, repo: Uploads) -> None:
        # GIVEN an import whose worker died WHEN its lease has run out THEN the next delivery takes it
        repo.create(upload())
        repo.begin_import("tn_a", "upl_1", NOW, LEASE)
        again = repo.begin_import("tn_a", "upl_1", NOW + LEASE + 1, LEASE)
        assert again.lease_until == NOW + 2 * LEASE + 1

    def test_an_outcome_is_recorded_once(self, repo: Uploads) -> None:
        # GIVEN an import WHEN it finishes ready THEN the upload is done with its report, the lease gone
        repo.create(upload())
        repo.begin_import("tn_a", "upl_1", NOW, LEASE)
        outcome = replace(UploadOutcome(UploadStatus.READY).with_report(REPORT), processed_at="2026-12-01T08:01:00Z")
        done = repo.finish("tn_a", "upl_1", outcome)
        assert done == upload(
            status=UploadStatus.READY,
            stage=UploadStage.DONE,
            processed_at="2026-12-01T08:01:00Z",
            rows=3,
            valid=2,
            duplicates=1,
            columns=("name",),
        )
        assert repo.get("tn_a", "upl_1") == done
        # WHEN a second outcome comes (an expired URL's rejection, late) THEN it loses, told the upload as it is
        with pytest.raises(UploadFinishedError) as lost:
            repo.finish("tn_a", "upl_1", UploadOutcome.rejected("upload_expired", "too late"))
        assert lost.value.upload == done
        # AND a done upload is never imported again
        with pytest.raises(UploadBusyError):
            repo.begin_import("tn_a", "upl_1", NOW + 10 * LEASE, LEASE)

    def test_an_awaited_upload_may_be_rejected_before_its_file_comes(self, repo: Uploads) -> None:
        # GIVEN an upload whose URL expired WHEN it is rejected THEN it is done with the error, no report fields
        repo.create(upload())
        error = {"code": "upload_expired", "message": "the upload URL expired", "details": []}
        done = repo.finish("tn_a", "upl_1", UploadOutcome.rejected("upload_expired", "the upload URL expired"))
        assert (done.status, done.stage, done.error, done.rows) == (UploadStatus.REJECTED, UploadStage.DONE, error, 0)

    def test_pinned_media_is_recorded(self, repo: Uploads) -> None:
        # GIVEN a media upload WHEN its copy is pinned THEN size, type, etag and key are what the copy has
        repo.create(upload(kind="media", content_type="image/png", size=10))
        repo.begin_import("tn_a", "upl_1", NOW, LEASE)
        outcome = UploadOutcome(UploadStatus.READY, size=9, content_type="image/jpeg", etag="e1", media_key="media/x")
        done = repo.finish("tn_a", "upl_1", outcome)
        assert (done.size, done.content_type, done.etag, done.media_key) == (9, "image/jpeg", "e1", "media/x")

    def test_a_missing_upload_is_neither_taken_nor_finished(self, repo: Uploads) -> None:
        # GIVEN no upload THEN taking or finishing it loses, and creates nothing
        with pytest.raises(UploadBusyError) as busy:
            repo.begin_import("tn_a", "upl_x", NOW, LEASE)
        assert busy.value.upload is None
        with pytest.raises(UploadFinishedError) as lost:
            repo.finish("tn_a", "upl_x", UploadOutcome(UploadStatus.READY))
        assert lost.value.upload is None
        assert repo.get("tn_a", "upl_x") is None


class TestFakeUploads(UploadsContract):
    @pytest.fixture
    def repo(self) -> Uploads:
        return FakeUploads()


class TestMotoUploads(UploadsContract):
    @pytest.fixture
    def repo(self, env: Env) -> Uploads:
        return env.deps.uploads
