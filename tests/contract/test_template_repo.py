"""The Templates port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

import pytest

from chalicelib.domain.templates import Template, TemplateUpdate
from chalicelib.services.ports import Templates
from tests.conftest import Env
from tests.fakes.templates import FakeTemplates

NOW = "2026-12-01T08:00:00Z"
LATER = "2026-12-01T09:00:00Z"


def template(tid: str, status: str = "approved", **fields: object) -> Template:
    """A template as a provider lists it."""
    values: dict[str, object] = {
        "id": tid,
        "name": f"name_{tid}",
        "language": "en",
        "status": status,
        "body": "Hi {{1}}, your order {{2}} has shipped.",
        "variables": ("1", "2"),
        "category": "utility",
        "header": {"type": "image"},
        "buttons": ({"type": "quick_reply", "text": "Stop promotions"},),
        "provider_status": status.upper(),
    }
    values.update(fields)
    return Template(**values)  # type: ignore[arg-type]


class TemplatesContract:
    """What every Templates implementation does."""

    @pytest.fixture
    def repo(self) -> Templates:
        raise NotImplementedError

    def test_a_sync_stores_each_template_whole(self, repo: Templates) -> None:
        # GIVEN a listing WHEN it is stored THEN each template reads back as the provider listed it, per channel
        repo.replace_all("tn_a", "ch_1", [template("1"), template("2", "pending")], NOW)
        got = repo.get("tn_a", "ch_1", "1")
        assert got is not None and got.template == template("1") and got.synced_at == NOW
        assert repo.get("tn_a", "ch_2", "1") is None and repo.get("tn_b", "ch_1", "1") is None

    def test_a_second_sync_removes_what_the_provider_no_longer_lists(self, repo: Templates) -> None:
        # GIVEN two stored templates WHEN the next listing has only one (changed) THEN the other is gone
        repo.replace_all("tn_a", "ch_1", [template("1"), template("2")], NOW)
        repo.replace_all("tn_a", "ch_1", [template("2", "paused")], LATER)
        assert repo.get("tn_a", "ch_1", "1") is None
        got = repo.get("tn_a", "ch_1", "2")
        assert got is not None and got.template.status == "paused" and got.synced_at == LATER

    def test_listing_pages_by_id_within_the_channel(self, repo: Templates) -> None:
        # GIVEN templates on two channels WHEN one channel lists two per page THEN its own, by id, then the rest
        repo.replace_all("tn_a", "ch_1", [template("3"), template("1"), template("2")], NOW)
        repo.replace_all("tn_a", "ch_10", [template("9")], NOW)
        first = repo.list("tn_a", "ch_1", 2, None)
        assert [s.template.id for s in first.items] == ["1", "2"] and first.next_cursor
        rest = repo.list("tn_a", "ch_1", 2, first.next_cursor)
        assert [s.template.id for s in rest.items] == ["3"] and rest.next_cursor is None

    def test_an_update_changes_the_state_and_keeps_the_rest(self, repo: Templates) -> None:
        # GIVEN an approved template WHEN the provider reports it paused THEN status, word and reason change only
        repo.replace_all("tn_a", "ch_1", [template("1")], NOW)
        update = TemplateUpdate("1", "paused", provider_status="PAUSED", reason="low quality")
        got = repo.apply_update("tn_a", "ch_1", update, LATER)
        assert got is not None and got.updated_at == LATER
        assert got.template == template("1", "paused", provider_status="PAUSED", reason="low quality")
        assert repo.get("tn_a", "ch_1", "1") == got
        back = repo.apply_update("tn_a", "ch_1", TemplateUpdate("1", "approved", "APPROVED"), LATER)
        assert back is not None and back.template.reason is None and back.template.status == "approved"

    def test_an_update_never_creates_a_template(self, repo: Templates) -> None:
        # GIVEN no such template WHEN an update comes THEN nothing is stored
        assert repo.apply_update("tn_a", "ch_1", TemplateUpdate("7", "paused"), LATER) is None
        assert repo.get("tn_a", "ch_1", "7") is None

    def test_delete_all_removes_one_channels_templates(self, repo: Templates) -> None:
        # GIVEN templates on two channels WHEN one channel's go THEN the other's stay
        repo.replace_all("tn_a", "ch_1", [template("1")], NOW)
        repo.replace_all("tn_a", "ch_2", [template("1")], NOW)
        repo.delete_all("tn_a", "ch_1")
        assert repo.get("tn_a", "ch_1", "1") is None and repo.get("tn_a", "ch_2", "1") is not None


class TestFakeTemplates(TemplatesContract):
    @pytest.fixture
    def repo(self) -> Templates:
        return FakeTemplates()


class TestMotoTemplates(TemplatesContract):
    @pytest.fixture
    def repo(self, env: Env) -> Templates:
        return env.deps.templates
