"""Direct opportunities through the API: a CRM upserts its pipeline by its
own ids (checked as a CSV import's rows are), reads it by them, and closes
what it no longer has; pending registrations near a change are checked
again. Ops write; those who decide registrations and executives read."""

import pytest

from dealreg.models import Conflict, DealRegistration, DirectOpportunity
from prm.tenancy.models import AuditEntry, OutboxMessage
from prm.tenancy.roles import Role

from .dealreg_support import make_lines, submitted

pytestmark = pytest.mark.django_db
DIRECT = "/api/v1/direct-opportunities/"
ConflictState = DealRegistration.ConflictState


@pytest.fixture
def lines(acme):
    return make_lines(acme)


def opportunity(crm_id: str = "006-A", **overrides) -> dict:
    data = {
        "crm_id": crm_id,
        "customer_name": "Initech Corp",
        "customer_domain": "https://www.initech.example/",
        "customer_country": "US",
        "product_lines": ["fw", "SD-WAN"],
        "owner_name": "Dana Direct",
        "owner_email": "dana@acme.example",
        "stage": "Negotiation",
        "amount": "40000.00",
        "close_date": "2030-01-31",
    }
    data.update(overrides)
    return data


def stored(world) -> list[DirectOpportunity]:
    with world.scope():
        return list(DirectOpportunity.objects.order_by("external_id"))


def test_an_upsert_creates_then_updates_and_an_unchanged_one_writes_nothing(acme, api, lines):
    client = api(acme, Role.OPS_ADMIN)
    created = client.post(DIRECT, opportunity())
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["crm_id"] == "006-A"
    assert data["customer_domain"] == "initech.example"
    assert data["customer_country"] == "US"
    assert data["stage"] == "negotiation" and data["is_open"] is True
    assert data["amount"] == "40000.00" and data["currency"] == acme.tenant.base_currency
    assert sorted(p["code"] for p in data["product_lines"]) == ["fw", "sdwan"]
    assert created["Location"] == f"{DIRECT}006-A/"
    same = client.post(DIRECT, opportunity())
    assert same.status_code == 200 and same.json() == data
    moved = client.post(DIRECT, opportunity(stage="closed won", product_lines=["fw"]))
    assert moved.status_code == 200
    assert moved.json()["stage"] == "closed_won" and moved.json()["is_open"] is False
    assert [p["code"] for p in moved.json()["product_lines"]] == ["fw"]
    assert moved.json()["imported_at"] > data["imported_at"]
    assert len(stored(acme)) == 1
    with acme.scope():
        assert AuditEntry.objects.filter(action__startswith="dealreg.direct_").count() == 2
    assert client.get(f"{DIRECT}006-A/").json() == moved.json()


def test_bad_input_is_422_per_field_as_an_import_checks_it(acme, api, lines):
    client = api(acme, Role.OPS_ADMIN)
    missing = client.post(DIRECT, {"customer_name": "X"})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["crm_id"]
    bad = client.post(
        DIRECT,
        opportunity(
            stage="maybe",
            amount="lots",
            customer_country="Atlantis",
            product_lines=["nope"],
            owner_email="not-an-email",
            currency="dollars",
        ),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"stage", "amount", "customer_country", "product_lines", "owner_email"} <= fields
    assert "currency" in fields
    assert stored(acme) == []


def test_delete_closes_what_the_crm_no_longer_has_and_an_upsert_reopens(acme, api, lines):
    client = api(acme, Role.OPS_ADMIN)
    client.post(DIRECT, opportunity("006-A"))
    client.post(DIRECT, opportunity("006-B", customer_name="Hooli", customer_domain=""))
    closed = client.delete(f"{DIRECT}006-A/")
    assert closed.status_code == 200
    assert closed.json()["stage"] == "closed" and closed.json()["is_open"] is False
    again = client.delete(f"{DIRECT}006-A/")
    assert again.status_code == 200 and again.json() == closed.json()
    open_ones = client.get(DIRECT, {"open": "true"}).json()["results"]
    assert [o["crm_id"] for o in open_ones] == ["006-B"]
    gone = client.get(DIRECT, {"open": "false"}).json()["results"]
    assert [o["crm_id"] for o in gone] == ["006-A"]
    assert client.delete(f"{DIRECT}006-Z/").status_code == 404
    reopened = client.post(DIRECT, opportunity("006-A"))
    assert reopened.status_code == 200 and reopened.json()["is_open"] is True


def test_a_change_rechecks_the_pending_registrations_near_it(
    acme, api, lines, django_capture_on_commit_callbacks
):
    near = submitted(acme, lines)  # initech.example
    far = submitted(acme, lines, customer_name="Globex Unrelated", customer_domain="gx.example")
    client = api(acme, Role.OPS_ADMIN)
    with acme.scope():
        earlier = set(OutboxMessage.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(DIRECT, opportunity()).status_code == 201
    with acme.scope():
        checks = [
            m.kwargs["registration_id"]
            for m in OutboxMessage.objects.filter(task="dealreg.tasks.check_conflicts")
            if m.pk not in earlier
        ]
        assert checks == [str(near.pk)]
        assert str(far.pk) not in checks
        [conflict] = Conflict.objects.filter(registration=near)
        assert conflict.direct_opportunity.external_id == "006-A"
        assert DealRegistration.objects.get(pk=near.pk).conflict_state == ConflictState.CONFLICT
        before = OutboxMessage.objects.count()
    # Only the owner changes: nothing to check again.
    client.post(DIRECT, opportunity(owner_name="Someone Else"))
    with acme.scope():
        assert OutboxMessage.objects.count() == before
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"{DIRECT}006-A/").status_code == 200
    with acme.scope():
        assert not Conflict.objects.filter(registration=near).exists()
        assert DealRegistration.objects.get(pk=near.pk).conflict_state == ConflictState.CLEAR


def test_who_may_read_and_write(acme, globex, api, lines):
    api(acme, Role.OPS_ADMIN).post(DIRECT, opportunity())
    for role in (Role.CHANNEL_MANAGER, Role.EXECUTIVE):
        client = api(acme, role)
        assert client.get(f"{DIRECT}006-A/").status_code == 200
        assert client.post(DIRECT, opportunity()).status_code == 403
        assert client.delete(f"{DIRECT}006-A/").status_code == 403
    for role in (Role.FINANCE, Role.PARTNER_ADMIN, Role.PARTNER_USER):
        assert api(acme, role).get(DIRECT).status_code == 403
    assert (
        api(acme, Role.OPS_ADMIN, ["direct_opportunities:read"])
        .post(DIRECT, opportunity())
        .status_code
        == 403
    )
    # Another vendor's CRM ids are theirs: not found here.
    globex_ops = api(globex, Role.OPS_ADMIN)
    assert globex_ops.get(f"{DIRECT}006-A/").status_code == 404
    assert globex_ops.delete(f"{DIRECT}006-A/").status_code == 404
    assert globex_ops.post(DIRECT, opportunity(product_lines=[])).status_code == 201  # its own
    assert len(stored(acme)) == 1 and stored(acme)[0].is_open


def test_a_retried_upsert_with_its_idempotency_key_is_replayed(acme, api, lines):
    client = api(acme, Role.OPS_ADMIN)
    first = client.post(DIRECT, opportunity(), **{"Idempotency-Key": "sync-1-006-A"})
    again = client.post(DIRECT, opportunity(), **{"Idempotency-Key": "sync-1-006-A"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


def test_the_list_pages_and_stays_constant_in_queries(
    acme, api, lines, django_assert_max_num_queries
):
    client = api(acme, Role.OPS_ADMIN)
    for n in range(5):
        client.post(DIRECT, opportunity(f"006-{n}", customer_name=f"Customer {n}"))
    with django_assert_max_num_queries(10) as few:
        first = client.get(DIRECT, {"limit": 2, "open": "true"}).json()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(DIRECT).json()
    seen = [o["crm_id"] for o in first["results"]]
    page = first
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [o["crm_id"] for o in page["results"]]
    assert sorted(seen) == [f"006-{n}" for n in range(5)]
