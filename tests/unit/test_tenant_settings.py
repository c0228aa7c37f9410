"""The tenant's event_url: the URL rules, and PATCH's order (secret once, route, tenant) on fakes."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import EventRoutesLimitError, NotFoundError, UnprocessableError
from chalicelib.domain.event_urls import check_event_url
from chalicelib.domain.tenants import Tenant
from chalicelib.services import tenant_settings
from tests.fakes.deps import FakeWorld, fake_world, settings

TID = "tn_a"


@pytest.mark.parametrize(
    "url",
    [
        "https://pbx.example.com/events",
        "https://pbx.example.com:8443/hooks/msgcampaigns?tenant=a&x=%20",
        "https://a.b.c.example.org",
    ],
)
def test_https_urls_to_dns_names_are_event_urls(url: str) -> None:
    # GIVEN an https URL to a DNS name THEN it is accepted as given
    assert check_event_url(url, allow_local_http=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://pbx.example.com/events",  # plain http
        "http://127.0.0.1:8080/events",  # plain http to the local host, where the setting does not allow it
        "ftp://pbx.example.com/x",
        "https://user:pw@pbx.example.com/x",  # user info
        "https://pbx.example.com/x#frag",
        "https://localhost/x",  # not a public DNS name
        "https://10.0.0.1/x",  # an address, not a name
        "https://pbx.example.com/a b",  # a space
        "https://pbx.example.com/é",  # not escaped
        "https://pbx.example.com:0/x",
        "https://pbx.example.com:99999/x",
        "https:///x",
        "https://-bad-.example.com/x",
        "https://pbx.example.com/" + "a" * 2030,  # over 2,048 characters
        "",
        "pbx.example.com",
    ],
)
def test_other_urls_are_422_invalid_event_url(url: str) -> None:
    # GIVEN something EventBridge could not call WHEN checked THEN 422 invalid_event_url naming the field
    with pytest.raises(UnprocessableError) as caught:
        check_event_url(url, allow_local_http=False)
    assert caught.value.code == "invalid_event_url" and caught.value.details[0]["field"] == "event_url"


def test_plain_http_to_127_0_0_1_only_where_the_setting_allows_it() -> None:
    # GIVEN the local stack's setting THEN http://127.0.0.1[:port] is accepted, another plain http host is not
    assert check_event_url("http://127.0.0.1:8530/in", allow_local_http=True) == "http://127.0.0.1:8530/in"
    assert check_event_url("http://127.0.0.1/in", allow_local_http=True) == "http://127.0.0.1/in"
    for url in ("http://localhost:8530/in", "http://127.0.0.2/in", "http://pbx.example.com/in"):
        with pytest.raises(UnprocessableError):
            check_event_url(url, allow_local_http=True)


def world() -> FakeWorld:
    """A fake world with one tenant."""
    w = fake_world()
    w.tenants.create(Tenant(TID, "Acme", "h1", "2026-12-01T00:00:00Z"))
    return w


def test_the_first_patch_answers_the_secret_once_and_routes_the_events() -> None:
    # GIVEN a tenant without event_url WHEN it sets one, then another
    w = world()
    first = tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/a")
    second = tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/b")
    # THEN the first answer carries the secret kept for signing, the second none; the route follows the URL
    assert first["event_secret"] == w.events.secret(TID) and first["event_secret"].startswith("mce_")
    assert "event_secret" not in second and second["event_url"] == "https://pbx.example.com/b"
    assert w.events.routes[TID].event_url == "https://pbx.example.com/b"
    assert tenant_settings.get_tenant(w.deps, TID) == {
        "id": TID,
        "name": "Acme",
        "event_url": "https://pbx.example.com/b",
        "campaign_count": 0,
        "created_at": "2026-12-01T00:00:00Z",
    }


def test_null_removes_the_route_and_a_later_url_gets_no_second_secret() -> None:
    # GIVEN a tenant with an event_url WHEN it patches null, then a URL again
    w = world()
    secret = tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/a")["event_secret"]
    cleared = tenant_settings.set_event_url(w.deps, TID, None)
    again = tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/c")
    # THEN null removed the route and the URL; the secret stays (answered once, ever) and signs again
    assert cleared["event_url"] is None and "event_secret" not in again
    assert w.events.secret(TID) == secret and w.events.routes[TID].event_url == "https://pbx.example.com/c"


def test_a_first_patch_eventbridge_refuses_is_a_409_and_the_next_one_still_answers_the_secret() -> None:
    # GIVEN EventBridge at its quota of rules for the first PATCH that sets an event_url
    w = world()
    w.events.route_error = EventRoutesLimitError("no more rules")
    # WHEN the PBX sets one THEN it gets a 409 in the contract's shape, and the tenant has no event_url
    with pytest.raises(EventRoutesLimitError) as refused:
        tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/a")
    assert refused.value.status == 409 and refused.value.code == "event_routes_limit_reached"
    assert w.tenants.get(TID).event_url is None  # type: ignore[union-attr]
    # WHEN it sends the PATCH again and it gets through THEN that answer carries the secret the events are signed with
    answer = tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/a")
    assert answer["event_secret"] == w.events.secret(TID)
    # AND later PATCHes never show it again
    assert "event_secret" not in tenant_settings.set_event_url(w.deps, TID, "https://pbx.example.com/b")


def test_a_bad_url_changes_nothing() -> None:
    # GIVEN a tenant WHEN it patches an http URL THEN 422 and no secret, route or URL was written
    w = world()
    with pytest.raises(UnprocessableError):
        tenant_settings.set_event_url(w.deps, TID, "http://pbx.example.com/a")
    assert w.events.secrets == {} and w.events.routes == {} and w.tenants.get(TID).event_url is None  # type: ignore[union-attr]


def test_the_local_setting_lets_the_stack_use_127_0_0_1() -> None:
    # GIVEN the local stack's setting WHEN a tenant points its events at a local receiver THEN it is routed
    w = world()
    w.deps.settings = settings(allow_local_event_urls=True)
    assert tenant_settings.set_event_url(w.deps, TID, "http://127.0.0.1:8531/in")["event_url"].startswith("http://")


def test_an_unknown_tenant_is_404() -> None:
    # GIVEN no such tenant THEN both operations are 404 and nothing is kept
    w = fake_world()
    with pytest.raises(NotFoundError):
        tenant_settings.get_tenant(w.deps, "tn_nope")
    with pytest.raises(NotFoundError):
        tenant_settings.set_event_url(w.deps, "tn_nope", "https://pbx.example.com/a")
    assert w.events.secrets == {}
