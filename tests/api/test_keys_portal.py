"""The portal's "API keys" page: a partner admin's organisation's keys, a
new key acting as themselves (shown once, stored hashed), bad input refused
on its field, revoking; partner users 403, another partner's key 404."""

import hashlib
import uuid
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from prm.api.models import ApiKey
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from tests import factories

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

LIST = reverse("api_keys:list")
NEW = reverse("api_keys:new")
CREATED = reverse("api_keys:created")
PARTNERS = "/api/v1/partners/"


def form(world, **changes):
    today = world.tenant.local_today()
    data = {
        "name": "CRM sync",
        "scopes": ["partners:read"],
        "expires_at": (today + timedelta(days=30)).isoformat(),
        "form_token": str(uuid.uuid4()),
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def outsider(world) -> str:
    """A partner admin at the tenant's other partner, as a persona (its key)."""
    if "outsider" not in world.members:
        with world.scope():
            world.members["outsider"] = factories.make_member(
                world.tenant, Role.PARTNER_ADMIN, partner=world.other_partner
            )
    return "outsider"


def key_count(world) -> int:
    with world.scope():
        return ApiKey.objects.count()


def created_token(client) -> str:
    response = client.get(CREATED)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    return response.context["token"]


def test_partner_admin_creates_a_key_shown_once_and_stored_hashed(acme):
    client = acme.client(Role.PARTNER_ADMIN)
    page = client.get(NEW)
    assert page.status_code == 200
    grid = page.content.decode()
    # A partner admin may read the directory, not change it: no write box.
    assert 'value="partners:read"' in grid and 'value="partners:write"' not in grid
    day = acme.tenant.local_today() + timedelta(days=30)
    response = client.post(NEW, form(acme, expires_at=day.isoformat()))
    assert response.status_code == 302 and response["Location"] == CREATED

    token = created_token(client)
    assert token.startswith("prm_")
    with acme.scope():
        key = ApiKey.objects.get()
    assert key.membership == acme[Role.PARTNER_ADMIN]
    assert key.scopes == ["partners:read"]
    assert key.created_by == acme[Role.PARTNER_ADMIN].user
    # Works through the chosen day, in the program's time zone.
    assert key.expires_at == datetime.combine(day, time.max, tzinfo=acme.tenant.tzinfo)
    # The visible prefix is the token's; only a hash of the secret is stored.
    prefix, secret = ApiKey.split(token)
    assert key.prefix == prefix and token.startswith(key.display_prefix + "_")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    with acme.scope():
        entry = AuditEntry.objects.get(action="api.key_created")
    stored = [str(getattr(key, f.attname)) for f in ApiKey._meta.fields] + [str(entry.data)]
    assert not any(secret in value for value in stored)

    # Shown once: the page afterwards says so, the list shows the prefix only.
    again = client.get(CREATED)
    assert again.context["token"] == "" and secret not in again.content.decode()
    assert "A key is shown once" in again.content.decode()
    listed = client.get(LIST)
    body = listed.content.decode()
    assert "CRM sync" in body and key.display_prefix in body and secret not in body
    assert listed.context["rows"][0]["state"] == "active"

    # The key works against the API, for its organisation only.
    api = ApiClient(acme.host, token)
    found = api.get(PARTNERS)
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["results"]] == [str(acme.partner.pk)]
    assert api.get(f"{PARTNERS}{acme.other_partner.pk}/").status_code == 404


def test_no_expiry_must_be_chosen_explicitly(acme):
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post(NEW, form(acme, expires_at=""))
    assert response.status_code == 400
    assert response.context["form"].errors["expires_at"] == [
        "Choose the day the key expires, or tick “No expiry”."
    ]
    assert key_count(acme) == 0
    assert client.post(NEW, form(acme, expires_at="", no_expiry="on")).status_code == 302
    with acme.scope():
        assert ApiKey.objects.get().expires_at is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"scopes": None}, "scopes", "Choose at least one scope."),
        (
            {"scopes": ["partners:read", "partners:write"]},
            "scopes",
            "Partner admin keys cannot have: partners:write.",
        ),
        ({"expires_at": "2020-01-31"}, "expires_at", "The expiry must be in the future."),
        ({"name": "  "}, "name", "Give the key a name that says what it is for."),
        (
            {"scopes": ["nonsense:read"]},
            "scopes",
            "Select a valid choice. nonsense:read is not one of the available choices.",
        ),
        ({"expires_at": "31/02/2027"}, "expires_at", "Enter a valid date."),
    ],
)
def test_bad_input_is_refused_on_its_field_and_saves_nothing(acme, changes, field, message):
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post(NEW, form(acme, **changes))
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode().replace("&quot;", '"')
    assert key_count(acme) == 0
    with acme.scope():
        assert not AuditEntry.objects.filter(action="api.key_created").exists()


def test_a_form_sent_twice_makes_one_key_and_shows_its_token(acme):
    client = acme.client(Role.PARTNER_ADMIN)
    data = form(acme)
    assert client.post(NEW, data)["Location"] == CREATED
    assert client.post(NEW, data)["Location"] == CREATED
    assert key_count(acme) == 1
    token = created_token(client)
    assert ApiClient(acme.host, token).get(PARTNERS).status_code == 200


def test_the_list_holds_the_organisations_keys_from_any_of_its_admins(acme):
    acme.second(Role.PARTNER_ADMIN)
    make_key(acme, Role.PARTNER_ADMIN, name="Mine")
    make_key(acme, f"second_{Role.PARTNER_ADMIN}", name="My colleague's")
    make_key(acme, outsider(acme), name="Another partner's")
    make_key(acme, Role.OPS_ADMIN, name="A staff key")
    response = acme.client(Role.PARTNER_ADMIN).get(LIST)
    names = {row["key"].name for row in response.context["rows"]}
    assert names == {"Mine", "My colleague's"}
    assert reverse("api:docs") in response.content.decode()


def test_the_list_reads_in_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.PARTNER_ADMIN)
    client.get(LIST)
    make_key(acme, Role.PARTNER_ADMIN, name="One")
    # The portal's own (tenant, session, user, membership, the agreements
    # gate, the menu's onboarding and compliance entries, the unread badge)
    # and the list's two: its count and its page, whatever its length.
    with django_assert_max_num_queries(10) as few:
        client.get(LIST)
    for index in range(5):
        make_key(acme, Role.PARTNER_ADMIN, name=f"More {index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST)
    assert len(response.context["rows"]) == 6


def test_revoking_asks_first_then_the_key_gets_401(acme):
    key, token = make_key(acme, Role.PARTNER_ADMIN, name="Old sync")
    api = ApiClient(acme.host, token)
    assert api.get(PARTNERS).status_code == 200
    # A colleague may revoke it: it is the organisation's key.
    colleague = acme.second(Role.PARTNER_ADMIN)
    client = acme.client(f"second_{Role.PARTNER_ADMIN}")
    url = reverse("api_keys:revoke", args=[key.pk])
    asked = client.post(url)
    assert asked.status_code == 200
    assert "Every request made with this key is refused" in asked.content.decode()
    with acme.scope():
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert api.get(PARTNERS).status_code == 200

    done = client.post(url, {"confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == LIST
    with acme.scope():
        revoked = ApiKey.objects.get(pk=key.pk)
        assert AuditEntry.objects.filter(action="api.key_revoked").count() == 1
    assert revoked.revoked_at is not None
    assert revoked.revoked_by == colleague.user
    assert api.get(PARTNERS).status_code == 401
    listed = client.get(LIST)
    assert listed.context["rows"][0]["state"] == "revoked"
    assert 'data-testid="revoke"' not in listed.content.decode()

    # Again (a second tab): refused in words, nothing changes.
    again = client.post(url, {"confirm": "yes"}, follow=True)
    assert "This key was revoked already." in again.content.decode()
    with acme.scope():
        assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked.revoked_at


def test_partner_users_and_staff_may_not(acme):
    key, _ = make_key(acme, Role.PARTNER_ADMIN)
    revoke = reverse("api_keys:revoke", args=[key.pk])
    for role in (Role.PARTNER_USER, Role.OPS_ADMIN, Role.CHANNEL_MANAGER):
        client = acme.client(role)
        for url in (LIST, NEW, CREATED):
            assert client.get(url).status_code == 403, (role, url)
        assert client.post(NEW, form(acme)).status_code == 403
        assert client.post(revoke, {"confirm": "yes"}).status_code == 403
    assert key_count(acme) == 1
    with acme.scope():
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    # The menu entry is a partner admin's only.
    assert "API keys" in acme.client(Role.PARTNER_ADMIN).get("/").content.decode()
    assert LIST not in acme.client(Role.PARTNER_USER).get("/").content.decode()


def test_another_partners_and_another_tenants_keys_are_404(acme, globex):
    theirs, _ = make_key(acme, outsider(acme))
    foreign, _ = make_key(globex, Role.PARTNER_ADMIN)
    client = acme.client(Role.PARTNER_ADMIN)
    for key in (theirs, foreign):
        url = reverse("api_keys:revoke", args=[key.pk])
        assert client.post(url).status_code == 404
        assert client.post(url, {"confirm": "yes"}).status_code == 404
    with acme.scope():
        assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_a_token_shown_is_for_its_own_organisation_only(acme):
    """The page shows the new key only to a member of its organisation (a
    session holding another's new key shows nothing)."""
    client = acme.client(Role.PARTNER_ADMIN)
    client.post(NEW, form(acme))
    session = client.session
    other = acme.client(outsider(acme))
    other_session = other.session
    other_session["api.new_key"] = session["api.new_key"]
    other_session.save()
    response = other.get(CREATED)
    assert response.context["token"] == ""
    # The partner's own admin, with the session, would have seen it.
    assert created_token(client).startswith("prm_")
