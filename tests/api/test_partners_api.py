"""The partner directory through the API, and the conventions every
resource shares (keys, scopes, problems, ETags, idempotency, pagination)."""

import pytest
from django.utils import timezone

from prm.api.models import ApiKey
from prm.tenancy.roles import Role

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

PARTNERS = "/api/v1/partners/"


def test_staff_key_lists_every_partner_partner_key_only_its_own(acme, api):
    staff = api(acme, Role.OPS_ADMIN).get(PARTNERS)
    assert staff.status_code == 200, staff.content
    names = {p["name"] for p in staff.json()["results"]}
    assert names == {acme.partner.name, acme.other_partner.name}
    own = api(acme, Role.PARTNER_USER).get(PARTNERS).json()["results"]
    assert [p["id"] for p in own] == [str(acme.partner.pk)]
    other = api(acme, Role.PARTNER_ADMIN).get(f"{PARTNERS}{acme.other_partner.pk}/")
    assert other.status_code == 404
    assert other["Content-Type"] == "application/problem+json"
    assert other.json()["code"] == "not_found"


def test_bad_keys_all_get_the_same_401(acme, globex, api):
    key, token = make_key(acme, Role.OPS_ADMIN)
    _, globex_token = make_key(globex, Role.OPS_ADMIN)
    expired_key, expired = make_key(acme, Role.CHANNEL_MANAGER)
    with acme.scope():
        ApiKey.objects.filter(pk=expired_key.pk).update(expires_at=timezone.now())
    revoked_key, revoked = make_key(acme, Role.FINANCE)
    with acme.scope():
        ApiKey.objects.filter(pk=revoked_key.pk).update(revoked_at=timezone.now())
    bodies = []
    for bad in (globex_token, expired, revoked, token[:-2] + "xx", "prm_nonsense", "x"):
        response = ApiClient(acme.host, bad).get(PARTNERS)
        assert response.status_code == 401, bad
        assert response["WWW-Authenticate"].startswith("Bearer")
        bodies.append(response.json())
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["code"] == "invalid_api_key"
    anonymous = api(acme).get(PARTNERS)
    assert anonymous.status_code == 401
    assert ApiClient(acme.host, token).get(PARTNERS).status_code == 200
    with acme.scope():
        assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_a_key_acts_with_its_members_role_and_scopes(acme, api):
    read_only = api(acme, Role.OPS_ADMIN, ["partners:read"])
    assert read_only.get(PARTNERS).status_code == 200
    refused = read_only.post(PARTNERS, {"name": "X"})
    assert refused.status_code == 403
    assert "partners:write" in refused.json()["detail"]
    finance = api(acme, Role.FINANCE)
    response = finance.patch(f"{PARTNERS}{acme.partner.pk}/", {"phone": "1"})
    assert response.status_code == 403
    # A key's member whose role changes loses what the role no longer has.
    _, token = make_key(acme, Role.OPS_ADMIN)
    member = acme[Role.OPS_ADMIN]
    with acme.scope():
        member.is_active = False
        member.save(update_fields=["is_active"])
    assert ApiClient(acme.host, token).get(PARTNERS).status_code == 401


def test_create_partner_validates_and_is_idempotent(acme, api):
    client = api(acme, Role.OPS_ADMIN)
    with acme.scope():
        tier = acme.partner.tier
    bad = client.post(PARTNERS, {"name": "", "type": "shop", "country": "ZZ", "tier": "nope"})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"name", "type", "country", "tier"} <= fields
    body = {
        "name": "Contoso Partners",
        "website": "https://contoso.example",
        "type": "reseller",
        "country": "de",
        "tier": str(tier.pk),
    }
    first = client.post(PARTNERS, body, **{"Idempotency-Key": "create-contoso-1"})
    assert first.status_code == 201, first.content
    again = client.post(PARTNERS, body, **{"Idempotency-Key": "create-contoso-1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = client.post(
        PARTNERS, {**body, "name": "Fabrikam"}, **{"Idempotency-Key": "create-contoso-1"}
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    duplicate = client.post(PARTNERS, body)
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["field"] == "name"
    listed = client.get(PARTNERS, {"name": "contoso"}).json()["results"]
    assert len(listed) == 1 and listed[0]["country"] == "DE"


def test_etags_and_if_match(acme, api):
    client = api(acme, Role.OPS_ADMIN)
    url = f"{PARTNERS}{acme.partner.pk}/"
    first = client.get(url)
    tag = first["ETag"]
    assert client.get(url, **{"If-None-Match": tag}).status_code == 304
    changed = client.patch(url, {"phone": "+1 555 0100"}, **{"If-Match": tag})
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] != tag
    stale = client.patch(url, {"phone": "+1 555 0199"}, **{"If-Match": tag})
    assert stale.status_code == 412
    assert client.get(url).json()["phone"] == "+1 555 0100"


def test_channel_manager_changes_only_own_partners(acme, api):
    client = api(acme, Role.CHANNEL_MANAGER)
    own = client.patch(f"{PARTNERS}{acme.partner.pk}/", {"phone": "2"})
    assert own.status_code == 200
    other = client.patch(f"{PARTNERS}{acme.other_partner.pk}/", {"phone": "2"})
    assert other.status_code == 403


def test_cursor_pagination(acme, api):
    client = api(acme, Role.OPS_ADMIN)
    page = client.get(PARTNERS, {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next"]
    following = client.get(page["next"]).json()
    assert len(following["results"]) == 1
    assert following["results"][0]["id"] != page["results"][0]["id"]
    assert client.get(PARTNERS, {"ordering": "name"}).json()["results"][0]["name"] == min(
        acme.partner.name, acme.other_partner.name
    )


def test_rate_limit_answers_429_with_retry_after(acme, api, settings):
    settings.API_RATE_LIMIT = 3
    client = api(acme, Role.OPS_ADMIN)
    answers = [client.get(PARTNERS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Remaining"] == "2"
    assert int(answers[3]["Retry-After"]) >= 1
    assert answers[3].json()["code"] == "rate_limited"


def test_session_needs_csrf_for_writes(acme):
    from django.test import Client

    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
    client.force_login(
        acme[Role.OPS_ADMIN].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
    )
    assert client.get(PARTNERS).status_code == 200
    refused = client.patch(
        f"{PARTNERS}{acme.partner.pk}/", '{"phone": "3"}', content_type="application/json"
    )
    assert refused.status_code == 403


def test_a_partner_member_held_by_a_portal_gate_gets_a_403_problem(acme, api, monkeypatch):
    from prm.tenancy import registry
    from tests.tenancy.test_portal_gate import TEST_GATE

    monkeypatch.setattr(registry, "gates", lambda: (TEST_GATE,))
    for client in (api(acme, Role.PARTNER_USER), acme.client(Role.PARTNER_USER)):
        response = client.get(PARTNERS)
        assert response.status_code == 403
        assert response.json()["detail"] == "Finish the thing first."
    assert api(acme, Role.PARTNER_ADMIN).get(PARTNERS).status_code == 200


def test_lists_are_constant_in_queries(acme, api, django_assert_max_num_queries):
    from tests import factories

    client = api(acme, Role.OPS_ADMIN)
    client.get(PARTNERS)  # the key's last use is written on the first request
    with acme.scope():
        for n in range(30):
            factories.make_partner(acme.tenant, f"Bulk Partner {n}", tier=acme.partner.tier)
    with django_assert_max_num_queries(3):
        response = client.get(PARTNERS, {"limit": 50})
    assert len(response.json()["results"]) == 32


def test_idempotency_records_are_forgotten_after_24_hours(acme, api, time_machine):
    from datetime import timedelta

    from prm.api.models import IdempotentRequest
    from prm.api.tasks import purge_idempotency_records

    client = api(acme, Role.OPS_ADMIN)
    with acme.scope():
        tier_id = str(acme.partner.tier_id)
    body = {"name": "Forgotten", "type": "msp", "country": "FR", "tier": tier_id}
    assert client.post(PARTNERS, body, **{"Idempotency-Key": "k1"}).status_code == 201
    time_machine.move_to(timezone.now() + timedelta(hours=25))
    assert purge_idempotency_records() == 1
    with acme.scope():
        assert not IdempotentRequest.objects.exists()
    # The key is free again: the same request now runs (and meets the duplicate).
    again = client.post(PARTNERS, body, **{"Idempotency-Key": "k1"})
    assert again.status_code == 422 and "Idempotent-Replayed" not in again


def test_an_unknown_api_address_is_a_404_problem(acme, api):
    for path in ("/api/v1/nothing-here/", "/api/v1/partners/not-a-uuid/", "/api/v1/partners"):
        response = api(acme, Role.OPS_ADMIN).get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
