"""API keys in the tenant admin (ops): every key listed with its state and
role, a staff key made acting as any active staff member (shown once,
stored hashed), bad input refused on its field, renaming, revoking from the
key's page or the list; other staff 403, another tenant's key 404."""

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse

from prm.api.models import ApiKey
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

LIST = reverse("tenant_admin:api_apikey_changelist")
ADD = reverse("tenant_admin:api_apikey_add")
CREATED = reverse("tenant_admin:api_apikey_created")
PARTNERS = "/api/v1/partners/"


def change_url(key) -> str:
    return reverse("tenant_admin:api_apikey_change", args=[key.pk])


def form(world, role=Role.OPS_ADMIN, **changes):
    day = world.tenant.local_today() + timedelta(days=10)
    data = {
        "name": "Warehouse export",
        "membership": str(world[role].pk),
        "scopes": ["partners:read"],
        "expires_at": day.isoformat(),
        "form_token": str(uuid.uuid4()),
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def key_count(world) -> int:
    with world.scope():
        return ApiKey.objects.count()


def test_the_add_page_offers_staff_members_and_the_scope_grid(acme):
    page = acme.client(Role.OPS_ADMIN).get(ADD)
    assert page.status_code == 200
    form_ = page.context["adminform"].form
    offered = set(form_.fields["membership"].queryset)
    staff = {acme[r] for r in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE)}
    assert offered == staff
    assert form_["membership"].value() == acme[Role.OPS_ADMIN].pk
    body = page.content.decode()
    assert 'data-testid="scope-grid"' in body
    assert 'value="partners:read"' in body and 'value="partners:write"' in body
    # Each member names the scopes it may give (the script narrows the grid).
    finance = re.search(f'value="{acme[Role.FINANCE].pk}" data-scopes="([^"]*)"', body)
    assert finance is not None
    assert "partners:read" in finance[1].split() and "partners:write" not in finance[1].split()
    assert form_["expires_at"].value() == acme.tenant.local_today() + timedelta(days=90)


def test_ops_make_a_key_shown_once_that_works(acme):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(ADD, form(acme, role=Role.CHANNEL_MANAGER, scopes=["partners:write"]))
    assert response.status_code == 302 and response["Location"] == CREATED
    shown = client.get(CREATED)
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    token = shown.context["token"]
    assert token in shown.content.decode()
    assert "it will not be shown again" in shown.content.decode()
    with acme.scope():
        key = ApiKey.objects.select_related("membership").get()
    assert key.membership == acme[Role.CHANNEL_MANAGER]
    assert key.created_by == acme[Role.OPS_ADMIN].user
    assert key.scopes == ["partners:write"]
    prefix, secret = ApiKey.split(token)
    assert key.prefix == prefix
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest() != secret
    # Once: the page afterwards has nothing to show; the list, the prefix only.
    again = client.get(CREATED)
    assert again.status_code == 200 and again.context["token"] == ""
    assert secret not in again.content.decode()
    listed = client.get(LIST).content.decode()
    assert key.display_prefix in listed and secret not in listed
    # The key acts as the channel manager: the directory read, their own
    # partner changed, another's not (never beyond the member's role).
    api = ApiClient(acme.host, token)
    assert api.get(PARTNERS).status_code == 200
    assert api.patch(f"{PARTNERS}{acme.partner.pk}/", {"phone": "+1 555 0100"}).status_code == 200
    assert api.patch(f"{PARTNERS}{acme.other_partner.pk}/", {"phone": "1"}).status_code == 403


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"scopes": None}, "scopes", "Choose at least one scope."),
        (
            {"membership": "finance", "scopes": ["partners:write"]},
            "scopes",
            "Finance keys cannot have: partners:write.",
        ),
        ({"expires_at": "2020-01-31"}, "expires_at", "The expiry must be in the future."),
        (
            {"expires_at": ""},
            "expires_at",
            "Choose the day the key expires, or tick “No expiry”.",
        ),
        ({"name": ""}, "name", "Give the key a name that says what it is for."),
        (
            {"membership": "partner_admin"},
            "membership",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
def test_bad_input_is_refused_on_its_field_and_saves_nothing(acme, changes, field, message):
    if changes.get("membership"):
        changes["membership"] = str(acme[changes["membership"]].pk)
    response = acme.client(Role.OPS_ADMIN).post(ADD, form(acme, **changes))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert key_count(acme) == 0
    with acme.scope():
        assert not AuditEntry.objects.filter(action="api.key_created").exists()


def test_another_tenants_member_is_no_choice(acme, globex):
    data = form(acme, membership=str(globex[Role.OPS_ADMIN].pk))
    response = acme.client(Role.OPS_ADMIN).post(ADD, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["membership"]
    assert key_count(acme) == 0 and key_count(globex) == 0


def test_a_form_sent_twice_makes_one_key(acme):
    client = acme.client(Role.OPS_ADMIN)
    data = form(acme, no_expiry="on", expires_at="")
    assert client.post(ADD, data)["Location"] == CREATED
    assert client.post(ADD, data)["Location"] == CREATED
    assert key_count(acme) == 1
    with acme.scope():
        assert ApiKey.objects.get().expires_at is None
    token = client.get(CREATED).context["token"]
    assert ApiClient(acme.host, token).get(PARTNERS).status_code == 200


def test_the_list_shows_staff_and_partner_keys_with_filters(acme, django_assert_max_num_queries):
    staff, _ = make_key(acme, Role.FINANCE, name="Finance BI")
    make_key(acme, Role.PARTNER_ADMIN, name="Reseller CRM")
    gone, _ = make_key(acme, Role.EXECUTIVE, name="Old board deck")
    with acme.scope():
        ApiKey.objects.filter(pk=gone.pk).update(revoked_at=acme.tenant.local_now())
    client = acme.client(Role.OPS_ADMIN)
    with django_assert_max_num_queries(12):
        page = client.get(LIST)
    body = page.content.decode()
    assert "Reseller CRM" in body and acme.partner.name in body and "Finance BI" in body

    def shown(query):
        return {k.name for k in client.get(LIST, query).context["cl"].result_list}

    assert shown({"state": "revoked"}) == {"Old board deck"}
    assert shown({"state": "active"}) == {"Finance BI", "Reseller CRM"}
    assert shown({"membership__role__exact": Role.PARTNER_ADMIN}) == {"Reseller CRM"}
    with acme.scope():
        ApiKey.objects.filter(pk=staff.pk).update(expires_at=acme.tenant.local_now())
    assert shown({"state": "expired"}) == {"Finance BI"}


def test_the_key_page_changes_the_name_only(acme):
    key, _ = make_key(acme, Role.FINANCE, scopes=["partners:read"], name="BI")
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(change_url(key))
    assert page.status_code == 200
    assert list(page.context["adminform"].form.fields) == ["name"]
    response = client.post(
        change_url(key),
        {"name": "BI dashboard", "scopes": "partners:write", "membership": acme[Role.OPS_ADMIN].pk},
    )
    assert response.status_code == 302
    with acme.scope():
        fresh = ApiKey.objects.get(pk=key.pk)
        entry = AuditEntry.objects.get(action="api.key_renamed")
    assert fresh.name == "BI dashboard"
    assert fresh.scopes == ["partners:read"] and fresh.membership == acme[Role.FINANCE]
    assert entry.data == {"name": "BI dashboard"}


def test_ops_revoke_a_partner_key_from_its_page_after_confirming(acme):
    key, token = make_key(acme, Role.PARTNER_ADMIN, name="Reseller CRM")
    api = ApiClient(acme.host, token)
    assert api.get(PARTNERS).status_code == 200
    client = acme.client(Role.OPS_ADMIN)
    assert 'data-testid="revoke"' in client.get(change_url(key)).content.decode()
    asked = client.post(change_url(key), {"_action": "revoke"})
    assert asked.status_code == 200
    assert "Every request made with this key is refused" in asked.content.decode()
    with acme.scope():
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    done = client.post(change_url(key), {"_action": "revoke", "confirm": "yes"})
    assert done.status_code == 302
    with acme.scope():
        revoked = ApiKey.objects.get(pk=key.pk)
    assert revoked.revoked_at is not None and revoked.revoked_by == acme[Role.OPS_ADMIN].user
    assert api.get(PARTNERS).status_code == 401
    page = client.get(change_url(key)).content.decode()
    assert 'data-testid="revoke"' not in page and "Revoked" in page
    # Once revoked, the action is no longer offered: 403.
    assert client.post(change_url(key), {"_action": "revoke", "confirm": "yes"}).status_code == 403


def test_ops_revoke_keys_from_the_list(acme):
    first, first_token = make_key(acme, Role.FINANCE, name="One")
    second, second_token = make_key(acme, Role.PARTNER_ADMIN, name="Two")
    _kept, kept_token = make_key(acme, Role.EXECUTIVE, name="Kept")
    client = acme.client(Role.OPS_ADMIN)
    data = {"action": "revoke_selected", "_selected_action": [str(first.pk), str(second.pk)]}
    asked = client.post(LIST, data)
    assert asked.status_code == 200 and "Revoke 2 keys?" in asked.content.decode()
    assert ApiClient(acme.host, first_token).get(PARTNERS).status_code == 200
    done = client.post(LIST, {**data, "confirm": "yes"}, follow=True)
    assert "Revoked 2 keys." in done.content.decode()
    for token in (first_token, second_token):
        assert ApiClient(acme.host, token).get(PARTNERS).status_code == 401
    assert ApiClient(acme.host, kept_token).get(PARTNERS).status_code == 200


@pytest.mark.parametrize(
    "role",
    [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE, Role.PARTNER_ADMIN, Role.PARTNER_USER],
)
def test_only_ops_manage_keys_in_the_admin(acme, role):
    key, token = make_key(acme, Role.FINANCE)
    client = acme.client(role)
    for url in (LIST, ADD, CREATED, change_url(key)):
        assert client.get(url).status_code == 403, url
    assert client.post(ADD, form(acme)).status_code == 403
    assert client.post(change_url(key), {"_action": "revoke", "confirm": "yes"}).status_code == 403
    assert key_count(acme) == 1
    assert ApiClient(acme.host, token).get(PARTNERS).status_code == 200


def test_another_tenants_key_is_404(acme, globex):
    key, token = make_key(globex, Role.FINANCE)
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(change_url(key)).status_code == 404
    assert client.post(change_url(key), {"_action": "revoke", "confirm": "yes"}).status_code == 404
    assert client.get(LIST).context["cl"].result_count == 0
    assert ApiClient(globex.host, token).get(PARTNERS).status_code == 200


def test_ops_home_lists_the_keys_among_the_set_up_areas(acme):
    setup = acme.client(Role.OPS_ADMIN).get("/").context["setup_cards"]
    assert "api.keys" in [c["card"].key for c in setup]
    others = acme.client(Role.CHANNEL_MANAGER).get("/").context
    assert "api.keys" not in [c["card"].key for c in others["cards"] + others["setup_cards"]]
