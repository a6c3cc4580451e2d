"""The decision SLA and protection periods as Celery beat runs them: time is
moved with time-machine and the beat tasks run eagerly.

The acme tenant works in New York with US public holidays and the default
policy: 16 business hours (two days of 09:00-17:00), reminders at 50% and
90%, escalation on breach, 90 days' protection, a warning 14 days before."""

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealreg import services, sla, tasks
from dealreg.models import DealRegistration, DealRegSettings, RegistrationEvent, SlaMark
from prm.celery import app
from prm.tenancy.models import AuditEntry, Notification
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
Status = DealRegistration.Status
Kind = RegistrationEvent.Kind


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def ny_acme(acme):
    acme.tenant.timezone = "America/New_York"
    acme.tenant.save(update_fields=["timezone"])
    return acme


@pytest.fixture
def submit_at(submit_as):
    def _submit(world, moment, **fields):
        with time_machine.travel(moment, tick=False):
            return submit_as(world, **fields)

    return _submit


def beat(moment) -> int:
    """What Celery beat does at ``moment``: the per-minute SLA dispatch."""
    with time_machine.travel(moment, tick=False):
        return tasks.dispatch_sla_sweeps()


def beat_protection(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return tasks.dispatch_protection_sweeps()


def notes(world, kind, role=None):
    with world.scope():
        qs = Notification.objects.filter(kind=kind)
        if role is not None:
            qs = qs.filter(user=world[role].user)
        return list(qs)


def events(registration, kind):
    return list(RegistrationEvent.objects.filter(registration=registration, kind=kind))


def fresh(world, registration) -> DealRegistration:
    with world.scope():
        return DealRegistration.objects.get(pk=registration.pk)


def set_policy(world, **values):
    with world.scope():
        DealRegSettings.objects.filter(pk=DealRegSettings.for_tenant(world.tenant).pk).update(
            **values
        )


# --- Scheduling: when the sweep next has work ---------------------------------------------


def test_submission_schedules_the_first_reminder_in_business_time(ny_acme, submit_at):
    # Mon 10:00 + 16 business hours: 7 h Monday, 8 h Tuesday, 1 h Wednesday.
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    assert registration.sla_due_at == ny(2026, 11, 18, 10)
    # 50%: eight business hours left, after eight more: Tuesday 10:00.
    assert registration.sla_next_check_at == ny(2026, 11, 17, 10)
    with ny_acme.scope():
        settings_row = DealRegSettings.for_tenant(ny_acme.tenant)
        left = settings_row.calendar().between(
            registration.sla_next_check_at, registration.sla_due_at
        )
    assert left == timedelta(hours=8)


def test_next_check_after_the_reminders_is_the_due_time_then_nothing(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    with ny_acme.scope():
        settings_row = DealRegSettings.for_tenant(ny_acme.tenant)
        now = ny(2026, 11, 16, 11)
        assert sla.next_check_at(registration, settings_row, now, sent=set()) == ny(
            2026, 11, 17, 10
        )
        # 90%: 1.6 business hours left, Tuesday 16:24.
        assert sla.next_check_at(registration, settings_row, now, sent={"reminder:50"}) == ny(
            2026, 11, 17, 16, 24
        )
        both = {"reminder:50", "reminder:90"}
        assert sla.next_check_at(registration, settings_row, now, sent=both) == ny(2026, 11, 18, 10)
        assert sla.next_check_at(registration, settings_row, now, sent={*both, "breach"}) is None
        # A reminder whose moment has passed (e.g. after a pause) is due now.
        late = ny(2026, 11, 17, 12)
        assert sla.next_check_at(registration, settings_row, late, sent=set()) == late


def test_weekend_and_public_holiday_are_skipped(ny_acme, submit_at):
    # Wed 25 Nov 15:00, the day before Thanksgiving: 2 h Wednesday, Thursday
    # is a holiday, 8 h Friday, the weekend, 6 h Monday.
    registration = submit_at(ny_acme, ny(2026, 11, 25, 15))
    assert registration.sla_due_at == ny(2026, 11, 30, 15)
    assert registration.sla_next_check_at == ny(2026, 11, 27, 15)
    assert beat(ny(2026, 11, 26, 16)) == 0  # Thanksgiving: nothing due
    assert beat(ny(2026, 11, 27, 15)) == 1
    assert len(notes(ny_acme, "dealreg.reminder", Role.CHANNEL_MANAGER)) == 1


def test_custom_closure_day_counts_as_non_working(ny_acme, submit_at):
    from dealreg.models import ClosureDay

    with ny_acme.scope():
        ClosureDay.objects.create(tenant=ny_acme.tenant, day=date(2026, 11, 17), name="Offsite")
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    assert registration.sla_due_at == ny(2026, 11, 19, 10)


def test_reminder_across_the_spring_dst_change(ny_acme, submit_at):
    # Clocks go forward on Sunday 8 March 2026. Friday 16:00 EST + 8 business
    # hours (1 h Friday, 7 h Monday) is Monday 16:00 EDT = 20:00 UTC; a fixed
    # -5 h offset would say 21:00 UTC.
    registration = submit_at(ny_acme, ny(2026, 3, 6, 16))
    assert registration.sla_next_check_at == datetime(2026, 3, 9, 20, tzinfo=UTC)
    assert registration.sla_due_at == datetime(2026, 3, 10, 20, tzinfo=UTC)
    assert beat(datetime(2026, 3, 9, 19, 59, tzinfo=UTC)) == 0
    assert beat(datetime(2026, 3, 9, 20, 0, tzinfo=UTC)) == 1
    assert len(notes(ny_acme, "dealreg.reminder", Role.CHANNEL_MANAGER)) == 1


# --- The SLA sweep ------------------------------------------------------------------------


def test_reminders_then_escalation_each_once(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    cm, ops = Role.CHANNEL_MANAGER, Role.OPS_ADMIN

    assert beat(ny(2026, 11, 17, 9, 59)) == 0
    assert notes(ny_acme, "dealreg.reminder") == []

    beat(ny(2026, 11, 17, 10))
    beat(ny(2026, 11, 17, 10))  # the same minute again: acts once
    beat(ny(2026, 11, 17, 10, 1))
    reminders = notes(ny_acme, "dealreg.reminder")
    assert [n.user for n in reminders] == [ny_acme[cm].user]
    assert registration.code in reminders[0].title
    with ny_acme.scope():
        reg = fresh(ny_acme, registration)
        assert reg.sla_next_check_at == ny(2026, 11, 17, 16, 24)
        reminder_events = events(reg, Kind.REMINDER)
        assert len(reminder_events) == 1
        assert reminder_events[0].visible_to_partner is False
        assert reminder_events[0].data["percent"] == 50
        assert set(SlaMark.objects.filter(registration=reg).values_list("kind", "cycle")) == {
            ("reminder:50", 1)
        }

    beat(ny(2026, 11, 17, 16, 24))
    assert len(notes(ny_acme, "dealreg.reminder", cm)) == 2
    assert notes(ny_acme, "dealreg.escalated") == []

    beat(ny(2026, 11, 18, 9, 59))
    assert notes(ny_acme, "dealreg.escalated") == []
    beat(ny(2026, 11, 18, 10))
    beat(ny(2026, 11, 18, 10))
    escalations = notes(ny_acme, "dealreg.escalated")
    assert {n.user for n in escalations} == {ny_acme[ops].user, ny_acme[cm].user}
    with ny_acme.scope():
        reg = fresh(ny_acme, registration)
        assert reg.status == Status.SUBMITTED  # escalated, still for a person to decide
        assert reg.sla_next_check_at is None
        escalated = events(reg, Kind.ESCALATED)
        assert len(escalated) == 1 and escalated[0].visible_to_partner is False
        assert AuditEntry.objects.filter(
            action="dealreg.sla_breached", object_id=str(reg.pk)
        ).exists()
    assert beat(ny(2026, 11, 19, 10)) == 0  # nothing left to do for it

    with ny_acme.scope(), time_machine.travel(ny(2026, 11, 18, 11), tick=False):
        decided = services.approve(registration, by=ny_acme[cm])
    assert decided.sla_met is False


def test_decision_in_time_records_sla_met_and_stops_the_sweep(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    with ny_acme.scope():
        decided = services.reject(
            registration,
            by=ny_acme[Role.CHANNEL_MANAGER],
            reason="Not our segment",
            now=ny(2026, 11, 16, 12),
        )
    assert decided.sla_met is True
    assert decided.sla_next_check_at is None
    assert beat(ny(2026, 11, 20, 12)) == 0
    assert notes(ny_acme, "dealreg.reminder") == []


def test_a_missed_sweep_sends_only_the_latest_reminder(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    beat(ny(2026, 11, 17, 16, 30))  # past the 90% mark; the sweep was down until now
    reminders = notes(ny_acme, "dealreg.reminder")
    assert len(reminders) == 1
    with ny_acme.scope():
        assert set(
            SlaMark.objects.filter(registration=registration).values_list("kind", flat=True)
        ) == {
            "reminder:50",
            "reminder:90",
        }
        assert events(registration, Kind.REMINDER)[0].data["percent"] == 90
        assert fresh(ny_acme, registration).sla_next_check_at == ny(2026, 11, 18, 10)


def test_the_clock_pauses_while_waiting_for_the_partner(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    cm, partner = ny_acme[Role.CHANNEL_MANAGER], ny_acme[Role.PARTNER_USER]
    with ny_acme.scope():
        paused = services.request_info(
            registration, by=cm, message="Which sites?", now=ny(2026, 11, 16, 15)
        )
    assert paused.sla_next_check_at is None
    assert paused.sla_remaining_seconds == 11 * 3600  # 2 h Mon, 8 h Tue, 1 h Wed
    assert beat(ny(2026, 11, 20, 8)) == 0  # long past the original due time
    assert notes(ny_acme, "dealreg.reminder") == notes(ny_acme, "dealreg.escalated") == []
    with ny_acme.scope():
        resumed = services.provide_info(
            registration, by=partner, message="Three sites", now=ny(2026, 11, 20, 9)
        )
    # 11 h from Friday 09:00: 8 h Friday, 3 h Monday.
    assert resumed.sla_due_at == ny(2026, 11, 23, 12)
    # 8 h left (50%) after 3 more business hours.
    assert resumed.sla_next_check_at == ny(2026, 11, 20, 12)
    beat(ny(2026, 11, 20, 12))
    assert len(notes(ny_acme, "dealreg.reminder")) == 1


def test_resuming_with_less_than_half_left_reminds_at_once(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    with ny_acme.scope():
        services.request_info(
            registration,
            by=ny_acme[Role.CHANNEL_MANAGER],
            message="Which sites?",
            now=ny(2026, 11, 17, 15),  # 3 h left
        )
        resumed = services.provide_info(
            registration,
            by=ny_acme[Role.PARTNER_USER],
            message="Three",
            now=ny(2026, 11, 19, 9),
        )
    assert resumed.sla_next_check_at == ny(2026, 11, 19, 9)
    beat(ny(2026, 11, 19, 9))
    assert len(notes(ny_acme, "dealreg.reminder")) == 1
    with ny_acme.scope():
        # 3 h left is under 50% but over 10%: the 50% reminder, and 90% still to come.
        assert events(registration, Kind.REMINDER)[0].data["percent"] == 50
        assert fresh(ny_acme, registration).sla_next_check_at == ny(2026, 11, 19, 10, 24)


def test_auto_approval_on_breach_without_conflicts(ny_acme, submit_at):
    set_policy(ny_acme, auto_approve_on_breach=True)
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    beat(ny(2026, 11, 18, 10, 0, 30))
    with ny_acme.scope():
        reg = fresh(ny_acme, registration)
        assert reg.status == Status.APPROVED
        assert reg.sla_met is False
        assert reg.decided_by is None
        assert reg.protected_until == date(2026, 11, 18) + timedelta(days=90)
        assert reg.sla_next_check_at is None
        auto = events(reg, Kind.AUTO_APPROVED)
        assert len(auto) == 1 and auto[0].visible_to_partner
        assert events(reg, Kind.ESCALATED) == []
    assert {n.user for n in notes(ny_acme, "dealreg.approved")} == {
        ny_acme[Role.PARTNER_USER].user,
        ny_acme[Role.PARTNER_ADMIN].user,
    }
    assert [n.user for n in notes(ny_acme, "dealreg.auto_approved")] == [
        ny_acme[Role.CHANNEL_MANAGER].user
    ]
    assert notes(ny_acme, "dealreg.escalated") == []


def test_no_auto_approval_with_conflicts_escalates_instead(ny_acme, submit_at):
    set_policy(ny_acme, auto_approve_on_breach=True)
    with ny_acme.scope():
        rival = factories.make_member(
            ny_acme.tenant, Role.PARTNER_USER, partner=ny_acme.other_partner
        )
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    submit_at(ny_acme, ny(2026, 11, 16, 11), member=rival, customer_name="Initech Corp")
    beat(ny(2026, 11, 18, 10))
    with ny_acme.scope():
        reg = fresh(ny_acme, registration)
        assert reg.status == Status.SUBMITTED
        escalated = events(reg, Kind.ESCALATED)
        assert len(escalated) == 1
        assert "conflicts" in escalated[0].data["auto_approval_refused"]
    assert "Not approved automatically" in notes(ny_acme, "dealreg.escalated")[0].body


def test_breach_without_escalation_policy_is_only_recorded(ny_acme, submit_at):
    set_policy(ny_acme, escalate_on_breach=False)
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    beat(ny(2026, 11, 18, 10))
    assert notes(ny_acme, "dealreg.escalated") == []
    with ny_acme.scope():
        assert SlaMark.objects.filter(registration=registration, kind="breach").exists()
        assert fresh(ny_acme, registration).sla_next_check_at is None


def test_reminders_go_to_ops_when_nobody_was_routed(ny_acme, submit_at):
    with ny_acme.scope():
        cm = ny_acme[Role.CHANNEL_MANAGER]
        cm.is_active = False
        cm.save(update_fields=["is_active"])
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    assert registration.approver is None
    beat(ny(2026, 11, 17, 10))
    assert [n.user for n in notes(ny_acme, "dealreg.reminder")] == [ny_acme[Role.OPS_ADMIN].user]


def test_reminder_is_mailed_after_commit(
    ny_acme, submit_at, mailoutbox, django_capture_on_commit_callbacks
):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        beat(ny(2026, 11, 17, 10))
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [ny_acme[Role.CHANNEL_MANAGER].user.email]
    assert registration.code in mailoutbox[0].subject


def test_a_stale_check_on_a_decided_registration_is_cleared(ny_acme, submit_at):
    registration = submit_at(ny_acme, ny(2026, 11, 16, 10))
    with ny_acme.scope():
        DealRegistration.objects.filter(pk=registration.pk).update(status=Status.WITHDRAWN)
    beat(ny(2026, 11, 17, 10))
    assert notes(ny_acme, "dealreg.reminder") == []
    assert fresh(ny_acme, registration).sla_next_check_at is None


def test_a_row_that_fails_is_retried_later_and_does_not_stop_the_others(
    ny_acme, submit_at, monkeypatch
):
    first = submit_at(ny_acme, ny(2026, 11, 16, 10))
    second = submit_at(ny_acme, ny(2026, 11, 16, 10, 5), customer_name="Globochem")
    real_remind = sla._remind

    def broken(registration, *args, **kwargs):
        if registration.pk == first.pk:
            raise RuntimeError("boom")
        return real_remind(registration, *args, **kwargs)

    monkeypatch.setattr(sla, "_remind", broken)
    with ny_acme.scope():
        result = sla.sweep(ny_acme.tenant, now=ny(2026, 11, 17, 10, 10))
    assert (result.checked, result.reminders, result.failed) == (2, 1, 1)
    assert fresh(ny_acme, first).sla_next_check_at == ny(2026, 11, 17, 10, 10) + sla.RETRY_DELAY
    with ny_acme.scope():
        assert not SlaMark.objects.filter(registration=first).exists()
        assert SlaMark.objects.filter(registration=second, kind="reminder:50").exists()


def test_the_sweep_reads_only_registrations_whose_check_has_come(ny_acme, submit_at):
    due = submit_at(ny_acme, ny(2026, 11, 16, 10))
    for hour in range(11, 16):
        submit_at(ny_acme, ny(2026, 11, 16, hour), customer_name=f"Customer {hour}")
    with ny_acme.scope(), CaptureQueriesContext(connection) as queries:
        result = sla.sweep(ny_acme.tenant, now=ny(2026, 11, 17, 10))
    assert result.checked == 1
    select = next(q["sql"] for q in queries if "FOR UPDATE" in q["sql"])
    assert '"sla_next_check_at" <=' in select and "SKIP LOCKED" in select and "LIMIT" in select
    assert fresh(ny_acme, due).sla_next_check_at == ny(2026, 11, 17, 16, 24)


def test_a_batch_costs_the_same_number_of_queries_however_many_rows_are_due(ny_acme, submit_at):
    def queries_for(count):
        with ny_acme.scope():
            DealRegistration.objects.update(status=Status.WITHDRAWN, sla_next_check_at=None)
        for n in range(count):
            submit_at(ny_acme, ny(2026, 11, 16, 10), customer_name=f"Customer {count} {n}")
        with ny_acme.scope(), CaptureQueriesContext(connection) as captured:
            result = sla.sweep(ny_acme.tenant, now=ny(2026, 11, 17, 10))
        assert result.reminders == count
        return len(captured)

    assert queries_for(1) == queries_for(8) <= 12


def test_sweep_over_100k_open_registrations_within_a_second(ny_acme, submit_at):
    """100,000 open registrations, 50 of them due: the sweep reads the due
    ones through the partial index and finishes well within a second."""
    template = submit_at(ny_acme, ny(2026, 11, 16, 10))
    columns = [
        f.column
        for f in DealRegistration._meta.concrete_fields
        if f.column not in ("id", "code", "client_token", "sla_next_check_at")
    ]
    listed = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO dealreg_dealregistration (id, code, sla_next_check_at, {listed})
            SELECT gen_random_uuid(), 'DR-' || lpad(upper(to_hex(n)), 8, '0'),
                   CASE WHEN n <= 50 THEN %s ELSE %s END, {listed}
            FROM dealreg_dealregistration, generate_series(1, 100000) AS n
            WHERE id = %s
            """,
            [ny(2026, 11, 16, 12), ny(2026, 11, 19, 12), template.pk],
        )
        cursor.execute("ANALYZE dealreg_dealregistration")
    now = ny(2026, 11, 17, 10)
    with ny_acme.scope():
        assert DealRegistration.objects.filter(status=Status.SUBMITTED).count() == 100_001
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN SELECT id FROM dealreg_dealregistration WHERE tenant_id = %s "
                "AND sla_next_check_at <= %s ORDER BY sla_next_check_at LIMIT 500",
                [ny_acme.tenant.pk, now],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "dealreg_sla_next_check" in plan and "Seq Scan" not in plan
        started = time.perf_counter()
        result = sla.sweep(ny_acme.tenant, now=now)
        elapsed = time.perf_counter() - started
    assert result.checked == 51 and result.reminders == 51
    assert elapsed < 1.0


# --- Beat ----------------------------------------------------------------------------------


def test_beat_schedule_names_registered_tasks():
    # The task modules a worker imports at start (autodiscovery), whichever
    # tests ran before this one.
    app.loader.import_default_modules()
    # The schedule the apps declare (PRMApp.beat), as the beat process reads it.
    schedule = app.conf.beat_schedule
    assert schedule["dealreg-sla"]["task"] == "dealreg.tasks.dispatch_sla_sweeps"
    assert schedule["dealreg-sla"]["schedule"] == 60.0
    for entry in schedule.values():
        assert entry["task"] in app.tasks


def test_dispatch_sweeps_only_active_tenants_with_work_due(ny_acme, globex, submit_at):
    acme_reg = submit_at(ny_acme, ny(2026, 11, 16, 10))
    globex_reg = submit_at(globex, ny(2026, 11, 16, 10))
    assert beat(ny(2026, 11, 16, 11)) == 0
    globex.tenant.is_active = False
    globex.tenant.save(update_fields=["is_active"])
    assert beat(ny(2026, 11, 18, 12)) == 1
    with globex.scope():
        assert not SlaMark.objects.filter(registration=globex_reg).exists()
        assert Notification.objects.filter(kind__startswith="dealreg.reminder").count() == 0
    with ny_acme.scope():
        assert SlaMark.objects.filter(registration=acme_reg, kind="breach").exists()


def test_a_tenant_sweep_leaves_other_tenants_alone(ny_acme, globex, submit_at):
    submit_at(ny_acme, ny(2026, 11, 16, 10))
    globex_reg = submit_at(globex, ny(2026, 11, 16, 10))
    with ny_acme.scope():
        result = sla.sweep(ny_acme.tenant, now=ny(2026, 11, 18, 12))
    assert result.checked == 1
    with globex.scope():
        assert fresh(globex, globex_reg).sla_next_check_at == globex_reg.sla_next_check_at
        assert not SlaMark.objects.filter(registration=globex_reg).exists()


# --- Protection ----------------------------------------------------------------------------


def approved_on(world, submit_at, moment, **fields) -> DealRegistration:
    registration = submit_at(world, moment, **fields)
    with world.scope(), time_machine.travel(moment + timedelta(hours=1), tick=False):
        return services.approve(registration, by=world[Role.CHANNEL_MANAGER])


def test_expiry_warning_once_before_protection_ends(ny_acme, submit_at):
    registration = approved_on(ny_acme, submit_at, ny(2026, 11, 16, 10))
    until = registration.protected_until
    assert until == date(2026, 11, 16) + timedelta(days=90)
    warn_from = until - timedelta(days=14)
    beat_protection(ny(warn_from.year, warn_from.month, warn_from.day) - timedelta(minutes=1))
    assert notes(ny_acme, "dealreg.expiry_warning") == []
    beat_protection(ny(warn_from.year, warn_from.month, warn_from.day, 0, 5))
    beat_protection(ny(warn_from.year, warn_from.month, warn_from.day, 1, 5))
    warnings = notes(ny_acme, "dealreg.expiry_warning")
    assert {n.user for n in warnings} == {
        ny_acme[Role.PARTNER_USER].user,
        ny_acme[Role.PARTNER_ADMIN].user,
    }
    with ny_acme.scope():
        warning_events = events(registration, Kind.EXPIRY_WARNING)
        assert len(warning_events) == 1 and warning_events[0].visible_to_partner
        assert SlaMark.objects.filter(
            registration=registration, kind=f"expiry_warning:{until.isoformat()}"
        ).exists()


def test_an_extension_re_arms_the_expiry_warning(ny_acme, submit_at):
    registration = approved_on(ny_acme, submit_at, ny(2026, 11, 16, 10))
    until = registration.protected_until
    first_warning = until - timedelta(days=10)
    beat_protection(ny(first_warning.year, first_warning.month, first_warning.day, 8))
    with (
        ny_acme.scope(),
        time_machine.travel(
            ny(first_warning.year, first_warning.month, first_warning.day, 9), tick=False
        ),
    ):
        extension = services.request_extension(
            registration, by=ny_acme[Role.PARTNER_USER], reason="Board meets in March"
        )
        services.decide_extension(extension, by=ny_acme[Role.CHANNEL_MANAGER], approve=True)
        new_until = fresh(ny_acme, registration).protected_until
    assert new_until == until + timedelta(days=30)
    beat_protection(ny(first_warning.year, first_warning.month, first_warning.day, 10))
    assert len(notes(ny_acme, "dealreg.expiry_warning", Role.PARTNER_USER)) == 1
    second_warning = new_until - timedelta(days=14)
    beat_protection(ny(second_warning.year, second_warning.month, second_warning.day, 8))
    assert len(notes(ny_acme, "dealreg.expiry_warning", Role.PARTNER_USER)) == 2


def test_protection_expires_the_day_after_the_last_protected_day_in_local_time(ny_acme, submit_at):
    registration = approved_on(ny_acme, submit_at, ny(2026, 11, 16, 10))
    until = registration.protected_until
    next_day = until + timedelta(days=1)
    # 03:00 UTC on the next day is still the last protected day in New York.
    beat_protection(datetime(next_day.year, next_day.month, next_day.day, 3, tzinfo=UTC))
    assert fresh(ny_acme, registration).status == Status.APPROVED
    beat_protection(ny(next_day.year, next_day.month, next_day.day, 0, 10))
    beat_protection(ny(next_day.year, next_day.month, next_day.day, 1, 10))
    with ny_acme.scope():
        reg = fresh(ny_acme, registration)
        assert reg.status == Status.EXPIRED
        expired = events(reg, Kind.EXPIRED)
        assert len(expired) == 1 and expired[0].visible_to_partner
        assert AuditEntry.objects.filter(action="dealreg.expired", object_id=str(reg.pk)).exists()
    assert len(notes(ny_acme, "dealreg.expired", Role.PARTNER_USER)) == 1


def test_protection_sweep_is_set_based(ny_acme, submit_at, django_assert_max_num_queries):
    for n in range(12):
        approved_on(ny_acme, submit_at, ny(2026, 11, 16, 10), customer_name=f"Customer {n}")
    with ny_acme.scope():
        DealRegistration.objects.update(protected_until=date(2026, 12, 1))
        # 12 to expire in batches of 5 (3 batches): a constant number of queries
        # per batch, 14 each including closing pending extension requests, the
        # recipients' mail preferences, the outbox rows of the expiry mails and
        # the webhook endpoints that want registration.expired (none here).
        with django_assert_max_num_queries(42):
            result = sla.sweep_protection(ny_acme.tenant, now=ny(2026, 12, 2, 8), batch_size=5)
        assert result.expired == 12
        assert DealRegistration.objects.filter(status=Status.EXPIRED).count() == 12
        assert Notification.objects.filter(kind="dealreg.expired").count() == 24
