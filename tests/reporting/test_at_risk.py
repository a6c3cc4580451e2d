"""At-risk flags: each rule fires at its threshold and not just under it,
episodes open and close with the rules' verdicts, and the partner's channel
manager is told once per episode, however often the run repeats or however
many workers run it at once; another tenant is untouched."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from partners.models import Partner
from prm.tenancy import registry
from prm.tenancy.declarations import Filters, Period
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from reporting import tasks
from reporting.health import compute_scores, notify_once
from reporting.models import AtRiskEpisode, HealthScore, HealthSettings
from tests.concurrency import run_together, values
from tests.metric_probe import compute, drill, listed, rows

from .health_data import DAY, approved, at, days_before, submitted

pytestmark = pytest.mark.django_db
D = Decimal
KIND = "reporting.partner_at_risk"
THRESHOLDS = {
    "score_drop_points": 15,
    "score_drop_days": 90,
    "no_registration_days": 60,
    "pipeline_drop_percent": 50,
    "pipeline_period_days": 90,
}


def flags(world, rule, day=DAY, **thresholds):
    with world.scope():
        return registry.at_risk_rules()[rule].evaluate(
            world.tenant,
            day,
            [world.partner.pk, world.other_partner.pk],
            {**THRESHOLDS, **thresholds},
        )


def joined(world, day, partner=None):
    with world.scope():
        Partner.objects.filter(pk=(partner or world.partner).pk).update(created_at=at(day))


# --- The rules at their thresholds ----------------------------------------------------------


def test_no_registration_in_60_days(acme):
    submitted(acme, days_before(60))
    submitted(acme, days_before(59), partner=acme.other_partner)
    found = flags(acme, "dealreg.no_registration")
    assert found == {acme.partner.pk: "No registration in 60 days"}


def test_never_registered_counts_from_joining(acme):
    joined(acme, days_before(60))
    joined(acme, days_before(59), acme.other_partner)
    found = flags(acme, "dealreg.no_registration")
    assert found == {acme.partner.pk: "No registration since joining, 60 days ago"}


def test_the_threshold_is_the_tenants(acme):
    submitted(acme, days_before(60))
    assert acme.partner.pk not in flags(acme, "dealreg.no_registration", no_registration_days=61)


def test_pipeline_down_50_percent(acme):
    approved(acme, "10000.00", days_before(100))
    approved(acme, "5000.00", days_before(10))
    approved(acme, "10000.00", days_before(100), partner=acme.other_partner)
    approved(acme, "5000.01", days_before(10), partner=acme.other_partner)
    found = flags(acme, "dealreg.pipeline_drop")
    assert found == {
        acme.partner.pk: (
            "Approved pipeline down 50%: 5,000.00 USD in the last 90 days against "
            "10,000.00 USD in the 90 before"
        )
    }


def test_pipeline_period_is_the_tenants(acme):
    approved(acme, "10000.00", days_before(40))
    approved(acme, "1000.00", days_before(10))
    assert acme.partner.pk in flags(acme, "dealreg.pipeline_drop", pipeline_period_days=30)
    # over 90 days against the 90 before: new pipeline, not a drop
    assert flags(acme, "dealreg.pipeline_drop") == {}


def store(world, partner, day, score):
    with world.scope():
        HealthScore.objects.create(tenant=world.tenant, partner=partner, day=day, score=D(score))


def test_score_fell_15_points_in_90_days(acme):
    store(acme, acme.partner, days_before(90), "80.0")
    store(acme, acme.partner, days_before(20), "70.0")
    store(acme, acme.partner, DAY, "65.0")
    store(acme, acme.other_partner, days_before(90), "80.0")
    store(acme, acme.other_partner, DAY, "65.1")
    found = flags(acme, "reporting.score_drop")
    assert found == {
        acme.partner.pk: (
            "Health score fell 15.0 points in 90 days (from 80.0 on 1 Dec 2026 to 65.0)"
        )
    }


def test_a_best_score_before_the_window_does_not_count(acme):
    store(acme, acme.partner, days_before(91), "90.0")
    store(acme, acme.partner, days_before(30), "70.0")
    store(acme, acme.partner, DAY, "60.0")
    assert flags(acme, "reporting.score_drop") == {}
    assert acme.partner.pk in flags(acme, "reporting.score_drop", score_drop_days=91)


# --- Episodes and the one notification -----------------------------------------------------------


def run(world, day):
    with time_machine.travel(at(day + timedelta(days=1), 2), tick=False), world.scope():
        return compute_scores(world.tenant, day)


def told(world, role=Role.CHANNEL_MANAGER):
    with world.scope():
        return list(Notification.objects.filter(kind=KIND, user=world[role].user))


def episodes(world, partner=None):
    with world.scope():
        return list(
            AtRiskEpisode.objects.filter(partner=partner or world.partner).order_by("opened_on")
        )


@pytest.fixture
def quiet(acme):
    """Both partners in the directory since January, never registered."""
    joined(acme, days_before(400))
    joined(acme, days_before(400), acme.other_partner)
    return acme


def test_an_episode_opens_and_the_manager_is_told_once(quiet, globex):
    first = run(quiet, DAY)
    again = run(quiet, DAY)
    (episode,) = episodes(quiet)
    assert episode.opened_on == DAY and episode.closed_on is None
    assert episode.reasons[0]["rule"] == "dealreg.no_registration"
    assert (first.opened, first.notified, again.opened, again.notified) == (2, 1, 0, 0)
    (note,) = told(quiet)
    assert note.title == f"{quiet.partner.name} is at risk"
    assert note.url == reverse("tenant_admin:partners_partner_change", args=[quiet.partner.pk])
    assert "No registration since joining" in note.body
    # the next day, still at risk: the same episode, nobody told again
    run(quiet, DAY + timedelta(days=1))
    assert len(episodes(quiet)) == 1 and len(told(quiet)) == 1
    # nobody told directly: a retry of the step finds it done
    with quiet.scope():
        assert notify_once(quiet.tenant, episode.pk, now=at(DAY)) is False
    # the other tenant: nothing
    with globex.scope():
        assert not AtRiskEpisode.objects.exists() and not HealthScore.objects.exists()
    assert not told(globex)


def test_the_episode_closes_and_a_new_one_tells_again(quiet):
    run(quiet, DAY)
    submitted(quiet, DAY + timedelta(days=1))
    closing = run(quiet, DAY + timedelta(days=1))
    (episode,) = episodes(quiet)
    assert episode.closed_on == DAY + timedelta(days=1) and closing.closed == 1
    later = DAY + timedelta(days=61)
    run(quiet, later)
    old, new = episodes(quiet)
    assert old.closed_on == DAY + timedelta(days=1)
    assert new.opened_on == later and new.closed_on is None and new.notified_at is not None
    assert "No registration in 60 days" in new.reason_texts()
    assert len(told(quiet)) == 2


def test_no_channel_manager_nobody_told_until_one_is_assigned(quiet):
    run(quiet, DAY)
    (episode,) = episodes(quiet, quiet.other_partner)
    assert episode.notified_at is None
    with quiet.scope():
        Partner.objects.filter(pk=quiet.other_partner.pk).update(
            channel_manager=quiet[Role.CHANNEL_MANAGER].user
        )
    run(quiet, DAY + timedelta(days=1))
    assert len(told(quiet)) == 2  # one per partner, once each
    late = next(n for n in told(quiet) if quiet.other_partner.name in n.title)
    assert "401 days ago" in late.body  # the reasons of the day it was told


def test_a_partner_no_longer_active_closes_its_episode(quiet):
    run(quiet, DAY)
    with time_machine.travel(at(DAY + timedelta(days=1), 1), tick=False), quiet.scope():
        from partners import services as partner_services

        partner_services.update_partner(
            quiet.partner, by=None, data={"status": Partner.Status.SUSPENDED}
        )
    run(quiet, DAY + timedelta(days=1))
    (episode,) = episodes(quiet)
    assert episode.closed_on == DAY + timedelta(days=1)


def test_thresholds_from_the_settings(quiet):
    with quiet.scope():
        HealthSettings.objects.create(tenant=quiet.tenant, no_registration_days=500)
    result = run(quiet, DAY)
    assert result.at_risk == 0 and not episodes(quiet)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_tell_once(quiet):
    with quiet.scope():
        episode = AtRiskEpisode.objects.create(
            tenant=quiet.tenant,
            partner=quiet.partner,
            opened_on=DAY,
            reasons=[{"rule": "dealreg.no_registration", "text": "No registration in 90 days"}],
        )
    results = values(
        run_together(
            quiet,
            lambda: notify_once(quiet.tenant, episode.pk, now=at(DAY)),
            lambda: notify_once(quiet.tenant, episode.pk, now=at(DAY)),
        )
    )
    assert sorted(results) == [False, True]
    assert len(told(quiet)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_open_one_episode(quiet):
    results = values(
        run_together(
            quiet,
            lambda: compute_scores(quiet.tenant, DAY, now=at(DAY + timedelta(days=1))),
            lambda: compute_scores(quiet.tenant, DAY, now=at(DAY + timedelta(days=1))),
        )
    )
    assert sum(r.opened for r in results) == 2  # one per partner
    assert len(episodes(quiet)) == 1 and len(told(quiet)) == 1


# --- The nightly run -------------------------------------------------------------------------


def test_nightly_dispatch_in_each_tenants_night(acme, globex):
    from prm.tenancy.models import Tenant

    Tenant.objects.filter(pk=globex.tenant.pk).update(timezone="America/New_York")
    assert tasks.night_tenants(at(DAY, 2)) == [str(acme.tenant.pk)]
    assert tasks.night_tenants(at(DAY, 7)) == [str(globex.tenant.pk)]


def test_the_nightly_task_scores_yesterday_and_catches_up(quiet):
    with time_machine.travel(at(DAY, 2), tick=False):
        runs = tasks.compute_health(tenant_id=str(quiet.tenant.pk))
    assert [r["day"] for r in runs] == [
        (DAY - timedelta(days=d)).isoformat() for d in range(7, 0, -1)
    ]
    with time_machine.travel(at(DAY + timedelta(days=1), 2), tick=False):
        runs = tasks.compute_health(tenant_id=str(quiet.tenant.pk))
    assert [r["day"] for r in runs] == [DAY.isoformat()]
    assert len(told(quiet)) == 1


# --- The at-risk list ---------------------------------------------------------------------------


def test_the_at_risk_list(quiet, globex):
    run(quiet, DAY)
    url = reverse("tenant_admin:reporting_atriskepisode_changelist")
    page = quiet.client(Role.OPS_ADMIN).get(url + "?state=open")
    assert page.status_code == 200
    assert {e.partner_id for e in page.context["cl"].result_list} == {
        quiet.partner.pk,
        quiet.other_partner.pk,
    }
    mine = quiet.client(Role.CHANNEL_MANAGER).get(url + "?manager=me")
    assert [e.partner_id for e in mine.context["cl"].result_list] == [quiet.partner.pk]
    manager = quiet[Role.CHANNEL_MANAGER].user.pk
    by_id = quiet.client(Role.OPS_ADMIN).get(url + f"?manager={manager}")
    assert [e.partner_id for e in by_id.context["cl"].result_list] == [quiet.partner.pk]
    nobody = quiet.client(Role.OPS_ADMIN).get(url + "?manager=none")
    assert [e.partner_id for e in nobody.context["cl"].result_list] == [quiet.other_partner.pk]
    someone_else = globex[Role.CHANNEL_MANAGER].user.pk
    elsewhere = quiet.client(Role.OPS_ADMIN).get(url + f"?manager={someone_else}")
    assert list(elsewhere.context["cl"].result_list) == []
    closed = quiet.client(Role.OPS_ADMIN).get(url + "?state=closed")
    assert list(closed.context["cl"].result_list) == []
    (episode,) = episodes(quiet)
    change = reverse("tenant_admin:reporting_atriskepisode_change", args=[episode.pk])
    assert quiet.client(Role.EXECUTIVE).get(change).status_code == 200
    assert quiet.client(Role.OPS_ADMIN).post(change, {}).status_code == 403
    assert globex.client(Role.OPS_ADMIN).get(change).status_code == 404
    assert quiet.client(Role.PARTNER_ADMIN).get(url).status_code == 403


def test_the_home_card_counts_partners_at_risk(quiet, globex):
    run(quiet, DAY)
    home = reverse("home")
    mine = quiet.client(Role.CHANNEL_MANAGER).get(home).content.decode()
    assert "1 partner of yours at risk" in mine and "2 partners at risk in the program" in mine
    ops = quiet.client(Role.OPS_ADMIN).get(home).content.decode()
    assert "2 partners at risk in the program" in ops and "of yours" not in ops
    assert "Partner health score" in ops  # the settings, among the setup links
    assert (
        "No partner is flagged at risk." in globex.client(Role.OPS_ADMIN).get(home).content.decode()
    )


class ReportingReadsGoElsewhere:
    """A router sending reads of reporting's models to a database that does
    not exist here, as a read replica router would send them to one that
    lags behind: any such read fails."""

    def db_for_read(self, model, **hints):
        return "nowhere" if model._meta.app_label == "reporting" else None


def test_a_run_reads_what_it_wrote_from_the_primary(quiet, settings):
    settings.DATABASE_ROUTERS = [f"{__name__}.ReportingReadsGoElsewhere"]
    run(quiet, DAY)
    with time_machine.travel(at(DAY + timedelta(days=2), 2), tick=False):
        tasks.compute_health(tenant_id=str(quiet.tenant.pk))
    settings.DATABASE_ROUTERS = []
    assert len(episodes(quiet)) == 1 and len(told(quiet)) == 1


# --- The at-risk partners metric and its drill ------------------------------------------------


def test_at_risk_partners_metric_and_its_list(acme, globex):
    with acme.scope():
        make = AtRiskEpisode.objects.create
        closed = make(
            tenant=acme.tenant, partner=acme.partner, opened_on=days_before(40), closed_on=DAY
        )
        current = make(tenant=acme.tenant, partner=acme.partner, opened_on=DAY)
        other = make(tenant=acme.tenant, partner=acme.other_partner, opened_on=days_before(10))
    with globex.scope():
        AtRiskEpisode.objects.create(tenant=globex.tenant, partner=globex.partner, opened_on=DAY)
    key = "reporting.at_risk_partners"
    last_month = Period(days_before(28), days_before(1))  # February
    assert compute(acme, key, last_month) == 2
    assert rows(acme, key, last_month) == sorted([closed.pk, other.pk])
    march = Period(DAY, DAY + timedelta(days=30))
    assert rows(acme, key, march) == sorted([current.pk, other.pk])
    assert compute(acme, key, Period(days_before(60), days_before(50))) == 0
    mine = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)
    assert compute(acme, key, march, mine) == 1
    # the list the figure drills to shows exactly its rows
    for period, filters in ((last_month, Filters()), (march, mine)):
        url = drill(acme, key, period, filters)
        assert listed(acme, Role.OPS_ADMIN, url) == rows(acme, key, period, filters)
        assert len(listed(acme, Role.EXECUTIVE, url)) == compute(acme, key, period, filters)
