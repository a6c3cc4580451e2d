"""The partner health score: each declared component against a small
hand-computed fixture (as of a day: later data does not count), the weights
and their rescaling when a component has no data, the stored history with
time moved, the settings, and the "Health" panel on the partner's page."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from dealreg.health import pipeline_trend, pipeline_trend_days
from incentives import disputes, ledger
from partners import services as partner_services
from partners.models import Contact, Partner
from prm.tenancy import registry
from prm.tenancy.declarations import AtRiskRule, HealthComponent, PRMApp, Reading
from prm.tenancy.models import Membership, Tenant, User
from prm.tenancy.roles import Role
from reporting.health import (
    backfill_health,
    combine,
    compute_scores,
    current_scores,
    latest_day,
)
from reporting.models import AtRiskEpisode, HealthScore, HealthSettings
from reporting.models.health import weight_errors
from tests.incentives.conftest import make_plan, make_won_deal

from .health_data import DAY, Status, approved, at, days_before, lost, registration, submitted, won

pytestmark = pytest.mark.django_db
D = Decimal


def reading(world, key, day=DAY, partners=None):
    """partner id -> Reading (a bare value as a Reading) of one component."""
    component = registry.health_components()[key]
    with world.scope():
        ids = partners or [world.partner.pk, world.other_partner.pk]
        found = component.compute(world.tenant, day, ids)
    return {
        pk: value if isinstance(value, Reading) else Reading(value) for pk, value in found.items()
    }


def value(world, key, partner=None, day=DAY):
    found = reading(world, key, day)
    got = found.get((partner or world.partner).pk)
    return None if got is None else got.value


# --- The components --------------------------------------------------------------------------


class TestPipelineTrend:
    KEY = "dealreg.pipeline_trend"

    def test_the_last_90_days_against_the_90_before(self, acme):
        approved(acme, "20000.00", days_before(0))  # the day itself counts
        approved(acme, "10000.00", days_before(89))  # first day of the current window
        approved(acme, "30000.00", days_before(90))  # last day of the previous one
        approved(acme, "10000.00", days_before(179))
        approved(acme, "99999.00", days_before(180))  # before both windows
        approved(acme, "99999.00", DAY + timedelta(days=1))  # after the day: not yet known
        approved(acme, "5000.00", days_before(3), currency="EUR")  # not the base currency
        approved(acme, "7000.00", days_before(3), status=Status.REJECTED)
        # approved then, won since: still approved in the window
        approved(acme, "10000.00", days_before(5), status=Status.WON)
        got = reading(acme, self.KEY)[acme.partner.pk]
        # 40,000 now against 40,000 before: held, full marks
        assert got.value == D("1.000")
        assert "40,000.00 USD" in got.why

    def test_a_fall_scores_in_proportion(self, acme):
        approved(acme, "30000.00", days_before(10))
        approved(acme, "40000.00", days_before(100))
        assert value(acme, self.KEY) == D("0.750")

    def test_new_pipeline_after_none_is_full_and_none_at_all_is_no_data(self, acme):
        approved(acme, "1000.00", days_before(1))
        found = reading(acme, self.KEY)
        assert found[acme.partner.pk].value == 1
        assert found[acme.other_partner.pk] == Reading(
            None, "No registration approved in the last 180 days"
        )

    def test_vanished_pipeline_scores_zero(self, acme):
        approved(acme, "1000.00", days_before(120))
        assert value(acme, self.KEY) == 0


class TestRegistrationRecency:
    KEY = "dealreg.registration_recency"

    def test_falls_evenly_to_zero_at_90_days(self, acme):
        submitted(acme, days_before(18))
        submitted(acme, days_before(40))
        submitted(acme, DAY + timedelta(days=1))  # after the day
        registration(acme, status=Status.DRAFT)  # never submitted
        assert value(acme, self.KEY) == D("0.800")  # (90 - 18) / 90

    def test_same_day_is_full_and_90_days_or_none_is_zero(self, acme):
        submitted(acme, DAY)
        submitted(acme, days_before(90), partner=acme.other_partner)
        assert value(acme, self.KEY) == 1
        assert value(acme, self.KEY, acme.other_partner) == 0

    def test_never_registered_is_zero(self, acme):
        got = reading(acme, self.KEY)[acme.partner.pk]
        assert got.value == 0 and got.why == "No registration submitted yet"


class TestWinRate:
    KEY = "dealreg.win_rate"

    def test_won_over_closed_in_365_days(self, acme):
        won(acme, days_before(1))
        won(acme, days_before(364))
        won(acme, days_before(365))  # outside the year
        won(acme, days_before(10), status=Status.REVERSED)  # closed, not won
        lost(acme, days_before(30))
        won(acme, days_before(2), recorded=DAY + timedelta(days=1))  # recorded after the day
        got = reading(acme, self.KEY)[acme.partner.pk]
        assert got.value == D("0.500")  # 2 won of 4 closed
        assert got.why == "2 won of 4 deals closed in the last 365 days"

    def test_no_closed_deal_is_no_data(self, acme):
        approved(acme, "1000.00", days_before(3))
        assert reading(acme, self.KEY)[acme.partner.pk] == Reading(
            None, "No deal closed in the last 365 days"
        )


class TestPortalEngagement:
    KEY = "partners.portal_engagement"

    def sign_in(self, world, role, day):
        User.objects.filter(pk=world[role].user.pk).update(last_login=at(day))

    def test_share_signed_in_and_recency(self, acme):
        self.sign_in(acme, Role.PARTNER_ADMIN, days_before(5))
        self.sign_in(acme, Role.PARTNER_USER, days_before(45))
        got = reading(acme, self.KEY)[acme.partner.pk]
        # half of 1/2 signed in within 30 days, half of (30 - 5) / 30
        assert got.value == D("0.667")
        assert got.why == (
            "1 of 2 portal users signed in within 30 days; the latest sign-in 5 days ago"
        )

    def test_nobody_in_the_portal_is_zero_and_inactive_people_do_not_count(self, acme):
        self.sign_in(acme, Role.PARTNER_ADMIN, DAY)
        with acme.scope():
            Membership.objects.filter(pk=acme[Role.PARTNER_USER].pk).update(is_active=False)
        assert value(acme, self.KEY) == 1
        assert value(acme, self.KEY, acme.other_partner) == 0

    def test_a_sign_in_after_the_day_is_not_seen(self, acme):
        self.sign_in(acme, Role.PARTNER_ADMIN, DAY + timedelta(days=2))
        self.sign_in(acme, Role.PARTNER_USER, days_before(30))
        # nobody within 30 days (the window is the 30 days up to the day's end)
        assert value(acme, self.KEY) == D("0.000")


class TestCompliance:
    KEY = "partners.compliance"

    def test_every_check_passed(self, acme):
        got = reading(acme, self.KEY)[acme.partner.pk]
        assert got.value == 1 and got.why == "Passes all 4 data checks"

    def test_missing_contact_and_region(self, acme):
        with acme.scope():
            Contact.objects.filter(partner=acme.other_partner).update(email="not-an-email")
            partner_services.update_partner(
                acme.other_partner, by=None, data={"country": "FR", "region": None}
            )
        got = reading(acme, self.KEY)[acme.other_partner.pk]
        assert got.value == D("0.500")
        assert "a contact with a valid email" in got.why and "a country and region" in got.why

    def test_the_record_as_it_stood_on_the_day(self, acme):
        with time_machine.travel(at(DAY + timedelta(days=3)), tick=False), acme.scope():
            partner_services.update_partner(acme.partner, by=None, data={"website": ""})
        assert value(acme, self.KEY) == 1
        assert value(acme, self.KEY, day=DAY + timedelta(days=3)) == D("0.750")
        # before the partner existed: no data
        assert acme.partner.pk not in reading(acme, self.KEY, day=date(2026, 1, 1))


class TestOpenDisputes:
    KEY = "incentives.open_disputes"

    def test_open_disputes_as_of_the_day(self, acme):
        with acme.scope():
            make_plan(acme)
            (entry,) = ledger.sync_deal(make_won_deal(acme, "1000.00"))
        assert value(acme, self.KEY, day=date.today()) == 1
        assert value(acme, self.KEY, acme.other_partner, day=date.today()) is None
        with acme.scope():
            dispute = disputes.open_dispute(entry, by=acme[Role.PARTNER_ADMIN], message="Why?")
        got = reading(acme, self.KEY, day=date.today())[acme.partner.pk]
        assert got.value == D("0.5") and got.why == "1 statement dispute open"
        with acme.scope():
            disputes.reject(dispute, by=acme[Role.FINANCE], reason="As agreed.")
        assert value(acme, self.KEY, day=date.today()) == 1
        # the day before the entry was written: no part in incentives yet
        assert value(acme, self.KEY, day=date.today() - timedelta(1)) is None


def test_certification_and_onboarding_are_not_faked():
    keys = set(registry.health_components())
    assert keys == {
        "partners.portal_engagement",
        "partners.compliance",
        "dealreg.pipeline_trend",
        "dealreg.registration_recency",
        "dealreg.win_rate",
        "incentives.open_disputes",
        "mdf.utilization",
        "onboarding.progress",
        "onboarding.certification_coverage",
    }


# --- Weights --------------------------------------------------------------------------------


def _component(key, weight=10):
    return HealthComponent(key, key.title(), "", weight, lambda tenant, day, ids: {})


def test_weights_make_the_score_and_points_add_up():
    a, b, c = _component("a"), _component("b"), _component("c")
    score, items = combine(
        [(a, 25, Reading(D("0.8"))), (b, 15, Reading(D("0.5"))), (c, 60, Reading(D("1")))]
    )
    # 25 * 0.8 + 15 * 0.5 + 60 * 1 = 87.5 of 100
    assert score == D("87.5")
    assert [i["contribution"] for i in items] == ["20.0", "7.5", "60.0"]


def test_a_component_without_data_rescales_the_other_weights():
    a, b, c = _component("a"), _component("b"), _component("c")
    score, items = combine(
        [(a, 25, Reading(D("0.8"))), (b, 15, Reading(D("0.5"))), (c, 20, Reading(None))]
    )
    # (25 * 0.8 + 15 * 0.5) / 40 * 100 = 68.75
    assert score == D("68.8")
    assert [i["contribution"] for i in items] == ["50.0", "18.8", "0.0"]
    assert items[2]["value"] is None


def test_a_zero_weight_counts_nothing_and_no_data_at_all_is_no_score():
    a, b = _component("a"), _component("b")
    assert combine([(a, 0, Reading(D("0.1"))), (b, 10, Reading(D("0.9")))])[0] == D("90.0")
    assert combine([(a, 10, Reading(None)), (b, 0, Reading(D("1")))])[0] is None


# --- Stored scores with time moved --------------------------------------------------------------


def scores(world, day):
    with world.scope():
        return {s.partner_id: s for s in HealthScore.objects.filter(day=day)}


def test_score_per_active_partner_and_day_with_time_moved(acme, globex):
    submitted(acme, date(2027, 2, 19))
    with acme.scope():
        HealthSettings.objects.create(
            tenant=acme.tenant,
            weights={
                "dealreg.registration_recency": 100,
                "dealreg.pipeline_trend": 0,
                "dealreg.win_rate": 0,
                "partners.portal_engagement": 0,
                "partners.compliance": 0,
                "incentives.open_disputes": 0,
                "onboarding.certification_coverage": 0,
            },
        )
    for day, expected in ((date(2027, 3, 1), D("88.9")), (date(2027, 3, 2), D("87.8"))):
        with time_machine.travel(at(day + timedelta(days=1), 3), tick=False), acme.scope():
            compute_scores(acme.tenant, day)
        stored = scores(acme, day)
        # (90 - 10) / 90 on 1 March, (90 - 11) / 90 on the 2nd
        assert stored[acme.partner.pk].score == expected
    with acme.scope():
        assert HealthScore.objects.filter(partner=acme.partner).count() == 2
        parts = {p.key: p for p in HealthScore.objects.get(day=DAY, partner=acme.partner).parts()}
    assert parts["dealreg.registration_recency"].contribution == D("88.9")
    assert parts["dealreg.registration_recency"].weight == 100
    assert parts["dealreg.win_rate"].value is None and not parts["dealreg.win_rate"].counted
    # the other tenant is untouched
    with globex.scope():
        assert not HealthScore.objects.exists()


def test_running_a_day_again_rewrites_its_rows(acme):
    with acme.scope():
        first = compute_scores(acme.tenant, DAY)
        before = dict(HealthScore.objects.filter(day=DAY).values_list("partner_id", "score"))
    submitted(acme, DAY)
    with acme.scope():
        again = compute_scores(acme.tenant, DAY)
        after = dict(HealthScore.objects.filter(day=DAY).values_list("partner_id", "score"))
        assert HealthScore.objects.count() == 2
    assert first.scored == again.scored == 2
    assert after[acme.partner.pk] > before[acme.partner.pk]
    assert after[acme.other_partner.pk] == before[acme.other_partner.pk]


def test_only_partners_active_on_the_day(acme):
    with time_machine.travel(at(DAY - timedelta(days=1)), tick=False), acme.scope():
        partner_services.update_partner(
            acme.other_partner, by=None, data={"status": Partner.Status.SUSPENDED}
        )
    with acme.scope():
        compute_scores(acme.tenant, DAY)
        assert set(HealthScore.objects.values_list("partner_id", flat=True)) == {acme.partner.pk}
        compute_scores(acme.tenant, DAY - timedelta(days=2))
        assert HealthScore.objects.filter(day=DAY - timedelta(days=2)).count() == 2


def test_backfill_scores_past_days_from_the_data_as_it_stood(acme):
    submitted(acme, date(2027, 2, 25))
    with time_machine.travel(at(date(2027, 3, 1), 8), tick=False), acme.scope():
        runs = backfill_health(acme.tenant, 5)
        days = sorted(
            HealthScore.objects.filter(partner=acme.partner).values_list("day", flat=True)
        )
        recency = {
            s.day: next(p for p in s.parts() if p.key == "dealreg.registration_recency").value
            for s in HealthScore.objects.filter(partner=acme.partner)
        }
    assert [r.day for r in runs] == days == [date(2027, 2, d) for d in range(24, 29)]
    assert recency[date(2027, 2, 24)] == 0  # before the registration
    assert recency[date(2027, 2, 25)] == 1
    assert recency[date(2027, 2, 28)] == D("0.967")


# --- Settings ---------------------------------------------------------------------------------


def test_weight_validation():
    declared = registry.health_components().values()
    assert weight_errors({"dealreg.win_rate": 30}, declared) == []
    assert weight_errors({"nope": 3}, declared)[0].startswith("“nope” is not a health component")
    assert weight_errors({"dealreg.win_rate": 101}, declared) == [
        "The weight of Win rate must be a whole number 0-100."
    ]
    assert weight_errors({"dealreg.win_rate": "5"}, declared)
    zero = dict.fromkeys(registry.health_components(), 0)
    assert weight_errors(zero, declared) == ["Weights must add up to more than 0."]


def _settings_post(world, **weights):
    data = {
        "score_drop_points": 15,
        "score_drop_days": 90,
        "no_registration_days": 60,
        "pipeline_drop_percent": 50,
        "pipeline_period_days": 90,
    }
    for key, component in registry.health_components().items():
        data["weight__" + key.replace(".", "__")] = weights.get(key, component.default_weight)
    return data


def test_ops_set_the_weights_and_thresholds(acme):
    client = acme.client(Role.OPS_ADMIN)
    url = reverse("tenant_admin:reporting_healthsettings_changelist")
    page = client.get(url)
    assert page.status_code == 200
    assert "Pipeline trend" in page.content.decode() and "Win rate" in page.content.decode()
    zero = dict.fromkeys(registry.health_components(), 0)
    refused = client.post(url, _settings_post(acme, **zero))
    assert refused.status_code == 200
    assert "Weights must add up to more than 0." in refused.content.decode()
    saved = client.post(
        url, {**_settings_post(acme, **{"dealreg.win_rate": 40}), "score_drop_points": 20}
    )
    assert saved.status_code == 302
    with acme.scope():
        row = HealthSettings.for_tenant(acme.tenant)
    assert row.weight_table()["dealreg.win_rate"] == 40
    assert row.weight_table()["dealreg.pipeline_trend"] == 25
    assert row.score_drop_points == 20


def test_staff_read_the_settings_but_only_ops_change_them(acme, globex):
    url = reverse("tenant_admin:reporting_healthsettings_changelist")
    page = acme.client(Role.CHANNEL_MANAGER).get(url)
    assert page.status_code == 200
    assert "<li>Pipeline trend: 25" in page.content.decode()
    posted = acme.client(Role.CHANNEL_MANAGER).post(url, _settings_post(acme))
    assert posted.status_code == 403
    assert acme.client(Role.PARTNER_ADMIN).get(url).status_code == 403


# --- The panel on the partner's page ---------------------------------------------------------


@pytest.fixture
def scored(acme):
    submitted(acme, days_before(3))
    with acme.scope():
        for back in (70, 40, 0):
            compute_scores(acme.tenant, days_before(back))
        AtRiskEpisode.objects.create(
            tenant=acme.tenant,
            partner=acme.partner,
            opened_on=DAY,
            reasons=[{"rule": "dealreg.no_registration", "text": "No registration in 61 days"}],
        )
    return acme


def partner_page(world, role, partner=None):
    partner = partner or world.partner
    url = reverse("tenant_admin:partners_partner_change", args=[partner.pk])
    return world.client(role).get(url)


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE])
def test_the_health_panel_on_the_partners_page(scored, role):
    page = partner_page(scored, role)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="health"' in html and "admin/health.css" in html
    with scored.scope():
        latest = HealthScore.objects.get(partner=scored.partner, day=DAY)
    assert f'<span class="hp-number">{latest.score}</span>' in html
    assert "Registration recency" in html and "Last registration submitted 3 days ago" in html
    assert "No registration in 61 days" in html
    assert "reporting.health" in [shown.panel.key for shown in page.context["partner_panels"]]
    months = re.findall(r'data-label="Month">([^<]+)<', html)
    assert months == ["Dec 2026", "Jan 2027", "Mar 2027"]
    closing = [m.score for m in page.context["history"]]
    assert (
        f'aria-label="Health score by month: {closing[0]} \N{RIGHTWARDS ARROW} {closing[-1]}"'
        in html
    )
    assert "Weights and thresholds" in html


def test_the_panel_without_scores_yet(acme):
    html = partner_page(acme, Role.OPS_ADMIN, acme.other_partner).content.decode()
    assert "No health score yet" in html


def test_another_tenants_partner_page_is_404(scored, globex):
    url = reverse("tenant_admin:partners_partner_change", args=[scored.partner.pk])
    assert globex.client(Role.OPS_ADMIN).get(url).status_code == 404


def test_partner_people_see_no_panel(scored):
    assert partner_page(scored, Role.PARTNER_ADMIN).status_code == 403


# --- Later apps add components, rules and panels by declaration ---------------------------------


@pytest.fixture
def declared(monkeypatch):
    """The installed apps' declarations plus the given ones."""
    cached = [registry.health_components, registry.at_risk_rules, registry.partner_panels]
    installed = registry.declared_apps()

    def use(*apps):
        monkeypatch.setattr(registry, "declared_apps", lambda: (*installed, *apps))
        for function in cached:
            function.cache_clear()

    yield use
    monkeypatch.undo()
    for function in cached:
        function.cache_clear()


def test_a_later_app_adds_a_component_and_a_rule(acme, declared):
    coverage = HealthComponent(
        key="certifications.coverage",
        name="Certification coverage",
        description="People certified ÷ people required to be.",
        default_weight=20,
        compute=lambda tenant, day, ids: {acme.partner.pk: Reading(D("0.5"), "1 of 2 certified")},
    )
    lapsing = AtRiskRule(
        key="certifications.lapsing",
        name="Certifications lapsing",
        description="",
        evaluate=lambda tenant, day, ids, thresholds: {acme.partner.pk: "2 certifications lapse"},
    )
    declared(PRMApp("certifications", health_components=[coverage], at_risk_rules=[lapsing]))
    with acme.scope():
        compute_scores(acme.tenant, DAY)
        stored = HealthScore.objects.get(partner=acme.partner, day=DAY)
        other = HealthScore.objects.get(partner=acme.other_partner, day=DAY)
        episode = AtRiskEpisode.objects.get(partner=acme.partner)
    mine = {p.key: p for p in stored.parts()}["certifications.coverage"]
    assert (mine.value, mine.weight, mine.why) == (D("0.5"), 20, "1 of 2 certified")
    theirs = {p.key: p for p in other.parts()}["certifications.coverage"]
    assert theirs.value is None and theirs.why == "No data"
    assert {"rule": "certifications.lapsing", "text": "2 certifications lapse"} in episode.reasons


def test_a_key_declared_twice_is_refused(declared):
    twin = HealthComponent("dealreg.win_rate", "Again", "", 5, lambda tenant, day, ids: {})
    declared(PRMApp("again", health_components=[twin]))
    with pytest.raises(ImproperlyConfigured, match=r"'dealreg\.win_rate' is declared twice"):
        registry.health_components()


def test_a_value_outside_0_to_1_is_a_mistake(acme, declared):
    wrong = HealthComponent(
        "x.wrong", "Wrong", "", 5, lambda tenant, day, ids: {acme.partner.pk: D("1.5")}
    )
    declared(PRMApp("x", health_components=[wrong]))
    with acme.scope(), pytest.raises(ValueError, match=r"x\.wrong gave 1\.5"):
        compute_scores(acme.tenant, DAY)


def test_as_of_the_end_of_the_tenants_day(acme):
    """New York: a registration at 23:30 local on the day is the day's
    (04:30 UTC the next day); one at 00:30 local the next day is not."""
    Tenant.objects.filter(pk=acme.tenant.pk).update(timezone="America/New_York")
    acme.tenant.refresh_from_db()
    ny = ZoneInfo("America/New_York")
    registration(
        acme, status=Status.SUBMITTED, submitted_at=datetime(2027, 2, 20, 23, 30, tzinfo=ny)
    )
    registration(acme, status=Status.SUBMITTED, submitted_at=datetime(2027, 3, 2, 0, 30, tzinfo=ny))
    registration(
        acme,
        partner=acme.other_partner,
        status=Status.SUBMITTED,
        submitted_at=datetime(2027, 3, 1, 23, 30, tzinfo=ny),
    )
    assert value(acme, "dealreg.registration_recency") == D("0.900")  # 9 days: 20 Feb
    assert value(acme, "dealreg.registration_recency", acme.other_partner) == 1


def test_current_scores_are_the_last_day_scored(acme):
    with acme.scope():
        assert latest_day(acme.tenant) is None and not current_scores(acme.tenant).exists()
        compute_scores(acme.tenant, DAY - timedelta(days=1))
        compute_scores(acme.tenant, DAY)
        assert latest_day(acme.tenant) == DAY
        assert {s.day for s in current_scores(acme.tenant)} == {DAY}
        assert current_scores(acme.tenant).count() == 2


def test_the_pipeline_series_of_a_backfill_equals_each_days_reading(acme):
    """``pipeline_trend_days`` (pandas, one query) gives, day by day, what
    ``pipeline_trend`` (SQL, one query a day) gives, in New York time."""
    Tenant.objects.filter(pk=acme.tenant.pk).update(timezone="America/New_York")
    acme.tenant.refresh_from_db()
    ny = ZoneInfo("America/New_York")
    for back, value in ((0, "100.10"), (30, "2000.00"), (89, "5.05"), (90, "300.00"), (200, "7")):
        approved(acme, value, days_before(back))
    registration(  # 23:30 local on 1 Dec: the 1st's in New York, the 2nd's in UTC
        acme,
        value="999.99",
        submitted_at=datetime(2026, 12, 1, 9, tzinfo=ny),
        decided_at=datetime(2026, 12, 1, 23, 30, tzinfo=ny),
    )
    approved(acme, "4000.00", days_before(45), partner=acme.other_partner)
    approved(acme, "5000.00", days_before(3), currency="EUR")
    approved(acme, "6000.00", days_before(3), status=Status.REJECTED)
    days = [DAY - timedelta(days=n) for n in range(0, 200, 7)] + [
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]
    ids = [acme.partner.pk, acme.other_partner.pk]
    with acme.scope():
        series = pipeline_trend_days(acme.tenant, days, ids)
        for day in days:
            assert series[day] == pipeline_trend(acme.tenant, day, ids), day
    assert series[DAY][acme.partner.pk].value == D("1")  # 2,105.15 against 300.00
    assert series[days_before(42)][acme.other_partner.pk].value == 1  # new pipeline
    # 300.00 and the 999.99 of 23:30 New York time, both on 1 Dec
    assert series[date(2026, 12, 1)][acme.partner.pk].why.startswith("1,299.99 USD approved")


def test_a_backfilled_day_equals_the_day_computed_alone(acme):
    approved(acme, "1000.00", date(2027, 1, 10))
    approved(acme, "400.00", date(2027, 2, 20))
    submitted(acme, date(2027, 2, 20))
    with time_machine.travel(at(DAY, 8), tick=False), acme.scope():
        backfill_health(acme.tenant, 10)
        before = {(s.partner_id, s.day): (s.score, s.components) for s in HealthScore.objects.all()}
        for day in {day for _, day in before}:
            compute_scores(acme.tenant, day, notify=False)
        after = {(s.partner_id, s.day): (s.score, s.components) for s in HealthScore.objects.all()}
    assert after == before and len(before) == 20
