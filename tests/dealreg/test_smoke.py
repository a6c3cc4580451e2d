import pytest

from dealreg import services
from dealreg.conflicts import conflicts_of
from dealreg.models import DealRegistration
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_submit_routes_to_the_partners_channel_manager_and_starts_the_clock(acme, submit_as):
    registration = submit_as(acme)
    assert registration.status == DealRegistration.Status.SUBMITTED
    assert registration.approver == acme[Role.CHANNEL_MANAGER].user
    assert registration.sla_due_at > registration.submitted_at
    assert registration.code.startswith("DR-")


def test_two_partners_same_customer_both_flagged_and_second_approval_needs_override(
    acme, submit_as
):
    with acme.scope():
        other_member = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
        )
    first = submit_as(acme)
    second = submit_as(acme, member=other_member, customer_name="Initech Corp.")
    with acme.scope():
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.conflict_state == second.conflict_state == "conflict"
        rows = conflicts_of(second)
        assert rows[0]["other"] == first
        assert "same domain" in rows[0]["conflict"].reasons
        ops = acme[Role.OPS_ADMIN]
        services.approve(first, by=ops)
        with pytest.raises(services.DealRegError, match="Give a reason"):
            services.approve(second, by=ops)
        approved = services.approve(second, by=ops, override_reason="Different division")
        assert approved.status == DealRegistration.Status.APPROVED


@pytest.mark.parametrize("domain", ["initech.example", ""])
def test_compiled_match_returns_what_the_orm_query_returns(acme, globex, submit_as, domain):
    """The conflict match runs the ORM's SQL compiled once with placeholder
    inputs; with real inputs it must give the ORM query's rows exactly, and
    never rows of another tenant."""
    from django.db import transaction

    from dealreg.conflicts import _match_queryset, _set_threshold, match

    with acme.scope():
        other_member = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
        )
    submit_as(globex, customer_name="Initech Corporation", customer_domain=domain)
    submit_as(acme, member=other_member, customer_name="Initech Corp", customer_domain=domain)
    mine = submit_as(acme, customer_name="Initech Corporation", customer_domain=domain)
    with acme.scope(), transaction.atomic():
        _set_threshold("0.6")
        compiled = match(mine)
        orm = list(
            _match_queryset(
                mine.tenant_id, mine.partner_id, mine.pk, mine.customer_name_normalized, domain
            )
        )
    assert compiled == orm
    assert len(compiled) == 1 and compiled[0]["kind"] == "registration"
    assert compiled[0]["shared"] == ["Firewall"]


def test_expiry_closes_a_pending_extension_request(acme, submit_as):
    from datetime import timedelta

    from django.utils import timezone

    from dealreg import sla
    from dealreg.models import ExtensionRequest

    registration = submit_as(acme)
    with acme.scope():
        services.approve(registration, by=acme[Role.OPS_ADMIN])
        request = services.request_extension(
            registration, by=acme[Role.PARTNER_USER], reason="Budget slipped a quarter"
        )
        registration.refresh_from_db()
        later = timezone.now() + timedelta(
            days=(registration.protected_until - timezone.localdate()).days + 2
        )
        sla.sweep_protection(acme.tenant, now=later)
        registration.refresh_from_db()
        request.refresh_from_db()
    assert registration.status == DealRegistration.Status.EXPIRED
    assert request.status == ExtensionRequest.Status.REJECTED
    assert "ended before" in request.decision_reason


def test_admin_partner_filter_lists_my_partners_and_takes_any_by_link(acme, submit_as):
    with acme.scope():
        other_member = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
        )
    mine = submit_as(acme)
    theirs = submit_as(
        acme, member=other_member, customer_name="Other Customer", customer_domain="other.example"
    )
    client = acme.client(Role.CHANNEL_MANAGER)
    page = client.get("/admin/dealreg/dealregistration/").content.decode()
    assert f"?partner={acme.partner.pk}" in page  # the manager's own partner is listed
    assert f"?partner={acme.other_partner.pk}" not in page
    filtered = client.get(f"/admin/dealreg/dealregistration/?partner={acme.other_partner.pk}")
    body = filtered.content.decode()
    assert theirs.code in body and mine.code not in body
    bogus = client.get("/admin/dealreg/dealregistration/?partner=not-an-id")
    assert bogus.status_code == 200
    assert mine.code not in bogus.content.decode()


def test_conflict_statuses_match_the_trigram_indexes():
    """The trigram indexes cover exactly what the match searches; if these
    lists drift apart the match misses rows (claims) or PostgreSQL stops
    using the index (and the check slows down by an order of magnitude at a
    million registrations)."""
    import importlib

    from dealreg.models import DirectOpportunity

    claims = importlib.import_module("dealreg.migrations.0009_active_claims")
    listed = "(" + ", ".join(f"'{s.value}'" for s in DealRegistration.ACTIVE) + ")"
    assert listed == claims.ACTIVE
    opp_index = {i.name: i for i in DirectOpportunity._meta.indexes}["directopp_tenant_name_trgm"]
    assert sorted(dict(opp_index.condition.children)["stage__in"]) == sorted(
        DirectOpportunity.OPEN_STAGES
    )
