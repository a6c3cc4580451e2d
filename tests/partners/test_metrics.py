"""The partner directory's metrics (partners.metrics): active partners at a
period's end, system adoption, the filters and the list they drill into."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db.models import Q
from django.urls import reverse

from partners import metrics, services
from partners.models import Partner, Region, Tier
from prm.tenancy import figures
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.models import Tenant, User
from prm.tenancy.roles import Role
from tests import factories
from tests.metric_probe import MARCH, compute, drill, listed, metric, rows

pytestmark = pytest.mark.django_db

Status = Partner.Status
# Late in April: March has ended.
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _personas_since_january(acme, globex):
    """The personas' partners (active) joined on 2 January, not today."""
    for world in (acme, globex):
        with world.scope():
            Partner.history.model.objects.filter(tenant_id=world.tenant.pk).update(
                history_date=datetime(2026, 1, 2, tzinfo=UTC)
            )


def at(moment: datetime, world, partner, **data):
    """Change a partner through the directory's service at ``moment``."""
    with time_machine.travel(moment, tick=False), world.scope():
        return services.update_partner(partner, by=None, data=data)


def new_partner(world, name, *, moment=datetime(2026, 1, 5, tzinfo=UTC), **data):
    with time_machine.travel(moment, tick=False), world.scope():
        return factories.make_partner(world.tenant, name, **data)


def set_timezone(world, zone: str) -> None:
    Tenant.objects.filter(pk=world.tenant.pk).update(timezone=zone)
    world.tenant.refresh_from_db()


# --- partner_q ----------------------------------------------------------------------------


def test_partner_q_applies_each_filter_through_the_prefix():
    assert metrics.partner_q(NO_FILTERS) == Q()
    assert metrics.partner_q(Filters(region=7, partner_type="msp"), "partner__") == Q(
        partner__region=7
    ) & Q(partner__partner_type="msp")
    assert metrics.partner_q(Filters(tier=3, channel_manager="u")) == Q(tier=3) & Q(
        channel_manager="u"
    )


# --- Active partners ----------------------------------------------------------------------


def test_active_partners_at_the_end_of_the_period(acme, globex):
    new_partner(acme, "Prospect Co", status=Status.PROSPECT)
    suspended = new_partner(acme, "Paused Co")
    at(datetime(2026, 2, 10, tzinfo=UTC), acme, suspended, status=Status.SUSPENDED)
    late = new_partner(acme, "Late Joiner", status=Status.ONBOARDING)
    at(datetime(2026, 4, 2, tzinfo=UTC), acme, late, status=Status.ACTIVE)
    left = new_partner(acme, "Left in April")
    at(datetime(2026, 4, 3, tzinfo=UTC), acme, left, status=Status.TERMINATED)

    # Acme's two, plus the one terminated only after March; globex's never.
    assert compute(acme, "partners.active") == 3
    # Today: the late joiner is active, the leaver is not.
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    assert compute(acme, "partners.active", april) == 3
    january = Period(date(2026, 1, 1), date(2026, 1, 31))
    assert compute(acme, "partners.active", january) == 4  # Paused Co still active then
    before = Period(date(2025, 12, 1), date(2025, 12, 31))
    assert compute(acme, "partners.active", before) == 0


def test_a_deleted_partner_is_not_counted(acme):
    gone = new_partner(acme, "Gone Co")
    with time_machine.travel(datetime(2026, 2, 1, tzinfo=UTC), tick=False), acme.scope():
        gone.delete()
    assert compute(acme, "partners.active") == 2
    assert compute(acme, "partners.active", Period(date(2026, 1, 1), date(2026, 1, 31))) == 3


def test_the_period_ends_at_midnight_in_the_tenants_time_zone(acme):
    set_timezone(acme, "America/New_York")
    # 22:00 on 31 March in New York: inside March there.
    evening = new_partner(acme, "Evening Co", moment=datetime(2026, 4, 1, 2, 0, tzinfo=UTC))
    # 00:30 on 1 April in New York: after March there.
    after_midnight = new_partner(
        acme, "Midnight Co", moment=datetime(2026, 4, 1, 4, 30, tzinfo=UTC)
    )
    with acme.scope():
        ids = set(
            metrics.active_partner_ids(acme.tenant, MARCH, NO_FILTERS).values_list("id", flat=True)
        )
    assert evening.pk in ids
    assert after_midnight.pk not in ids


def test_each_filter_narrows_active_partners(acme, globex):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        emea = factories.make_region(acme.tenant, "emea", countries=("DE",))
        na = Region.objects.get(code="na")
        manager = acme[Role.CHANNEL_MANAGER].user
    new_partner(acme, "Silver MSP", tier=silver, partner_type=Partner.Type.MSP, country="DE")
    new_partner(acme, "Silver Reseller", tier=silver, country="DE")
    with globex.scope():
        globex_silver = Tier.objects.get(name="Silver")
    new_partner(globex, "Globex Silver MSP", tier=globex_silver, partner_type=Partner.Type.MSP)

    assert compute(acme, "partners.active") == 4
    assert compute(acme, "partners.active", filters=Filters(tier=silver.pk)) == 2
    assert compute(acme, "partners.active", filters=Filters(partner_type="msp")) == 1
    assert compute(acme, "partners.active", filters=Filters(region=emea.pk)) == 2
    assert compute(acme, "partners.active", filters=Filters(region=na.pk)) == 2
    assert compute(acme, "partners.active", filters=Filters(channel_manager=manager.pk)) == 1
    assert (
        compute(acme, "partners.active", filters=Filters(tier=silver.pk, partner_type="msp")) == 1
    )
    # Another tenant's tier matches none of acme's partners.
    assert compute(acme, "partners.active", filters=Filters(tier=globex_silver.pk)) == 0


def test_filters_count_the_partner_as_it_was_at_the_end_of_the_period(acme):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
    gold = acme.partner.tier_id
    at(datetime(2026, 4, 5, tzinfo=UTC), acme, acme.partner, tier=silver)
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    assert compute(acme, "partners.active", april, Filters(tier=silver.pk)) == 1
    assert compute(acme, "partners.active", MARCH, Filters(tier=silver.pk)) == 0
    assert compute(acme, "partners.active", MARCH, Filters(tier=gold)) == 2
    assert compute(acme, "partners.active", april, Filters(tier=gold)) == 1


def test_active_partners_drill_into_the_partners_active_then(acme):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
    url = drill(acme, "partners.active", MARCH)
    assert urlsplit(url).path == reverse("tenant_admin:partners_partner_changelist")
    assert parse_qs(urlsplit(url).query) == {"drill": ["partners.active,2026-03-01,2026-03-31"]}
    # The partners as they were at the end of March, though one has moved since.
    assert listed(acme, Role.OPS_ADMIN, url) == rows(acme, "partners.active") != []
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    url = drill(acme, "partners.active", april, Filters(tier=silver.pk))
    assert listed(acme, Role.OPS_ADMIN, url) == rows(
        acme, "partners.active", april, Filters(tier=silver.pk)
    )
    gold = Filters(tier=acme.partner.tier_id)
    assert listed(acme, Role.OPS_ADMIN, drill(acme, "partners.active", april, gold)) == rows(
        acme, "partners.active", april, gold
    )
    assert len(rows(acme, "partners.active", april, gold)) == 2


def test_the_drill_list_answers_with_the_counted_partners(acme):
    new_partner(acme, "Prospect Co", status=Status.PROSPECT)
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    client = acme.client(Role.OPS_ADMIN)
    response = client.get(drill(acme, "partners.active", april))
    assert response.status_code == 200
    shown = {p.pk for p in response.context["cl"].result_list}
    assert shown == {acme.partner.pk, acme.other_partner.pk}
    assert compute(acme, "partners.active", april) == len(shown)
    # Every parameter is one the list understands (an unknown one redirects).
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        na = Region.objects.get(code="na")
    new_partner(acme, "Silver Co", tier=silver)
    narrow = Filters(tier=silver.pk, region=na.pk, partner_type="reseller")
    response = client.get(drill(acme, "partners.active", april, narrow))
    assert response.status_code == 200
    assert [p.name for p in response.context["cl"].result_list] == ["Silver Co"]
    assert compute(acme, "partners.active", april, narrow) == 1


# --- System adoption ----------------------------------------------------------------------


def signed_in(member, moment):
    """As Django records a sign-in (``update_last_login``): a save of the
    field, which reporting's rollups follow."""
    user = User.objects.get(pk=member.user.pk)
    user.last_login = moment
    user.save(update_fields=["last_login"])


def test_system_adoption_counts_partners_with_a_recent_portal_sign_in(acme, globex):
    # March ends at 1 April 00:00 UTC; the window opens 30 days before.
    signed_in(acme[Role.PARTNER_USER], datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    third = new_partner(acme, "Third Co")
    with acme.scope():
        member = factories.make_member(acme.tenant, Role.PARTNER_ADMIN, partner=third)
    signed_in(member, datetime(2026, 3, 1, 23, 59, tzinfo=UTC))  # just before the window
    # Staff signing in adopt nothing; another tenant's partner user neither.
    signed_in(acme[Role.CHANNEL_MANAGER], datetime(2026, 3, 20, tzinfo=UTC))
    signed_in(globex[Role.PARTNER_USER], datetime(2026, 3, 20, tzinfo=UTC))

    assert compute(acme, "partners.system_adoption") == Decimal("33.3")  # 1 of 3
    signed_in(member, datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    assert compute(acme, "partners.system_adoption") == Decimal("66.7")
    signed_in(member, datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # after March
    assert compute(acme, "partners.system_adoption") == Decimal("33.3")
    assert compute(globex, "partners.system_adoption") == Decimal("50.0")


def test_system_adoption_only_among_active_partners_and_with_filters(acme):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
    dormant = new_partner(acme, "Dormant Co", tier=silver)
    with acme.scope():
        member = factories.make_member(acme.tenant, Role.PARTNER_USER, partner=dormant)
    signed_in(member, datetime(2026, 3, 15, tzinfo=UTC))
    signed_in(acme[Role.PARTNER_ADMIN], datetime(2026, 3, 15, tzinfo=UTC))
    assert compute(acme, "partners.system_adoption") == Decimal("66.7")
    assert compute(acme, "partners.system_adoption", filters=Filters(tier=silver.pk)) == Decimal(
        "100.0"
    )
    at(datetime(2026, 3, 20, tzinfo=UTC), acme, dormant, status=Status.SUSPENDED)
    assert compute(acme, "partners.system_adoption") == Decimal("50.0")
    assert compute(acme, "partners.system_adoption", filters=Filters(tier=silver.pk)) is None


def test_system_adoption_is_undefined_without_active_partners(acme):
    before = Period(date(2025, 1, 1), date(2025, 1, 31))
    assert compute(acme, "partners.system_adoption", before) is None
    assert metric("partners.system_adoption").drill is None


def test_every_metric_is_declared_with_its_key_and_permission():
    assert [m.key for m in metrics.METRICS] == [
        "partners.active",
        "partners.system_adoption",
        "partners.tier_moves_up",
        "partners.tier_moves_down",
    ]
    assert all(m.perms == ("partners.view_partner",) for m in metrics.METRICS)
    assert timedelta(days=30) == metrics.ADOPTION_WINDOW


def test_figures_round_and_interpolate_as_documented():
    assert figures.percent(1, 3) == Decimal("33.3")
    assert figures.percent(2, 3) == Decimal("66.7")
    assert figures.percent(1, 0) is None
    assert figures.percentile([4, 1, 3, 2], 0.5) == Decimal("2.5")
    assert figures.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == Decimal("9.1")
    assert figures.percentile([], 0.5) is None
    assert figures.money(Decimal("10.005")) == Decimal("10.01")
    assert figures.money(None) == Decimal("0.00")
    assert figures.one_decimal(2.5) == Decimal("2.5")
    with pytest.raises(ValueError, match="fraction from 0 to 1"):
        figures.PercentileCont("x", fraction=1.5)


def test_each_metric_is_one_query(acme, django_assert_num_queries):
    with acme.scope():
        for m in metrics.METRICS:
            with django_assert_num_queries(1):
                m.compute(acme.tenant, MARCH, Filters(tier=acme.partner.tier_id))
