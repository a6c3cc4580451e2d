"""Deal registration under concurrency, on real PostgreSQL transactions:
threads start together at a barrier, each with its own connection, and the
outcome must be the same whatever the interleaving."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction

from dealreg import services, sla, workflow
from dealreg.conflicts import find_conflicts
from dealreg.models import Conflict, DealRegistration, DealRegSettings, RegistrationEvent, SlaMark
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from tests import factories
from tests.concurrency import run_together, values

from .conftest import registration_input

pytestmark = pytest.mark.django_db(transaction=True)

Status = DealRegistration.Status
Kind = RegistrationEvent.Kind


def submit(world, products, member=None, token=None, **fields):
    return lambda: services.submit(
        tenant=world.tenant,
        by=member or world[Role.PARTNER_USER],
        given=registration_input(products[world.tenant.slug], **fields),
        client_token=token or uuid.uuid4(),
    )


def test_twenty_identical_submissions_save_one_registration(acme, products):
    token = uuid.uuid4()
    results = values(run_together(acme, *[submit(acme, products, token=token)] * 20))
    assert len({registration.pk for registration in results}) == 1
    with acme.scope():
        assert DealRegistration.objects.count() == 1
        registration = DealRegistration.objects.get()
        assert registration.status == Status.SUBMITTED
        assert RegistrationEvent.objects.filter(kind=Kind.SUBMITTED).count() == 1
        assert Notification.objects.filter(kind="dealreg.assigned").count() == 1


def test_two_partners_submitting_the_same_customer_at_once_are_both_saved_and_flagged(
    acme, products
):
    with acme.scope():
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
    for round_ in range(3):  # a few rounds: every interleaving must end the same
        name, domain = f"Initech {round_}", f"initech{round_}.example"
        first, second = values(
            run_together(
                acme,
                submit(acme, products, customer_name=name, customer_domain=domain),
                submit(acme, products, member=rival, customer_name=name, customer_domain=domain),
            )
        )
        assert first.pk != second.pk
        with acme.scope():
            both = DealRegistration.objects.filter(pk__in=[first.pk, second.pk])
            assert {r.conflict_state for r in both} == {DealRegistration.ConflictState.CONFLICT}
            stored = Conflict.objects.filter(registration__in=both, other_registration__in=both)
            assert stored.exists()


def test_two_approvers_deciding_at_once_one_decision_wins(acme, submit_as):
    registration = submit_as(acme)
    results = run_together(
        acme,
        lambda: services.approve(registration, by=acme[Role.CHANNEL_MANAGER]),
        lambda: services.reject(registration, by=acme[Role.OPS_ADMIN], reason="Duplicate"),
    )
    outcomes = [kind for kind, _ in results]
    assert sorted(outcomes) == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, services.DealRegError)
    assert "cannot be" in str(error)
    with acme.scope():
        decided = DealRegistration.objects.get(pk=registration.pk)
        winner = next(value for kind, value in results if kind == "ok")
        assert decided.status == winner.status
        decisions = RegistrationEvent.objects.filter(
            registration=registration, kind__in=[Kind.APPROVED, Kind.REJECTED]
        )
        assert decisions.count() == 1


def test_two_approvers_approving_rival_registrations_at_once_need_an_override(acme, submit_as):
    with acme.scope():
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
    first = submit_as(acme)
    second = submit_as(acme, member=rival)
    results = run_together(
        acme,
        lambda: services.approve(first, by=acme[Role.CHANNEL_MANAGER]),
        lambda: services.approve(second, by=acme[Role.OPS_ADMIN]),
    )
    assert sorted(kind for kind, _ in results) == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, services.DealRegError) and error.field == "override_reason"
    with acme.scope():
        assert DealRegistration.objects.filter(status=Status.APPROVED).count() == 1


def test_two_sla_sweeps_at_once_remind_once(acme, submit_as):
    registration = submit_as(acme)
    now = registration.sla_next_check_at + timedelta(minutes=1)
    results = values(
        run_together(
            acme,
            lambda: sla.sweep(acme.tenant, now=now),
            lambda: sla.sweep(acme.tenant, now=now),
        )
    )
    assert sum(result.reminders for result in results) == 1
    with acme.scope():
        assert Notification.objects.filter(kind="dealreg.reminder").count() == 1
        assert RegistrationEvent.objects.filter(kind=Kind.REMINDER).count() == 1
        assert SlaMark.objects.filter(registration=registration).count() == 1


def test_automatic_approval_and_a_person_deciding_at_once(acme, submit_as):
    """The sweep locks its batch, a person locks one of its rows: the lock
    order (the tenant's decision lock first) must not deadlock, and each
    registration is decided exactly once."""
    with acme.scope():
        DealRegSettings.objects.filter(pk=DealRegSettings.for_tenant(acme.tenant).pk).update(
            auto_approve_on_breach=True
        )
    registrations = [submit_as(acme, customer_name=f"Customer {n}") for n in range(4)]
    now = max(r.sla_due_at for r in registrations) + timedelta(minutes=1)
    results = run_together(
        acme,
        lambda: sla.sweep(acme.tenant, now=now),
        lambda: services.approve(registrations[2], by=acme[Role.CHANNEL_MANAGER], now=now),
    )
    assert results[0][0] == "ok"
    assert results[1][0] == "ok" or isinstance(results[1][1], services.DealRegError)
    with acme.scope():
        for registration in registrations:
            assert DealRegistration.objects.get(pk=registration.pk).status == Status.APPROVED
            decisions = RegistrationEvent.objects.filter(
                registration=registration, kind__in=[Kind.APPROVED, Kind.AUTO_APPROVED]
            )
            assert decisions.count() == 1


def test_a_sweep_that_may_approve_waits_for_the_decision_lock_before_locking_rows(acme, submit_as):
    """Deterministic form of the test above: while a person's decision holds
    the tenant's decision lock, the sweep must wait without holding any
    registration (or the person, about to lock one, would deadlock with it)."""
    with acme.scope():
        DealRegSettings.objects.filter(pk=DealRegSettings.for_tenant(acme.tenant).pk).update(
            auto_approve_on_breach=True
        )
    registrations = [submit_as(acme, customer_name=f"Customer {n}") for n in range(2)]
    now = max(r.sla_due_at for r in registrations) + timedelta(minutes=1)
    done, errors = threading.Event(), []

    def run_sweep():
        try:
            with acme.scope():
                sla.sweep(acme.tenant, now=now)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    sweeper = threading.Thread(target=run_sweep)
    with acme.scope(), transaction.atomic():
        workflow.serialize_decisions(acme.tenant)  # a person deciding
        sweeper.start()
        deadline = time.monotonic() + 10
        while not _someone_waits_for_an_advisory_lock():
            assert time.monotonic() < deadline, "the sweep never waited for the decision lock"
            time.sleep(0.02)
        assert not done.is_set()
        # The person now locks a registration: it must be free.
        locked = DealRegistration.objects.select_for_update(nowait=True).filter(
            pk__in=[r.pk for r in registrations]
        )
        assert len(locked) == 2
    sweeper.join(30)
    assert done.is_set() and errors == []
    with acme.scope():
        assert DealRegistration.objects.filter(status=Status.APPROVED).count() == 2


def _someone_waits_for_an_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def test_conflict_checks_wait_for_decisions_of_the_tenant(acme, submit_as):
    """Checks and decisions of a tenant run one at a time (the decision lock):
    two checks of the same customer at once could otherwise deadlock
    flagging each other, or reset each other's fresh flag to clear."""
    registration = submit_as(acme)
    done, errors = threading.Event(), []

    def check():
        try:
            with acme.scope():
                find_conflicts(registration)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    checker = threading.Thread(target=check)
    with acme.scope(), transaction.atomic():
        workflow.serialize_decisions(acme.tenant)
        checker.start()
        deadline = time.monotonic() + 10
        while not _someone_waits_for_an_advisory_lock():
            assert time.monotonic() < deadline, "the check did not wait for the decision lock"
            time.sleep(0.02)
        assert not done.is_set()
    checker.join(30)
    assert done.is_set() and errors == []


def test_a_check_that_waited_for_the_decision_lock_matches_what_was_committed_meanwhile(
    acme, submit_as
):
    """The match runs after the lock is granted, as its own statement: a
    registration committed while the check waited is compared with."""
    with acme.scope():
        rival = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )
    registration = submit_as(acme)
    found, errors = [], []

    def check():
        try:
            with acme.scope():
                found.extend(find_conflicts(registration))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    checker = threading.Thread(target=check)
    with acme.scope(), transaction.atomic():
        workflow.serialize_decisions(acme.tenant)
        checker.start()
        deadline = time.monotonic() + 10
        while not _someone_waits_for_an_advisory_lock():
            assert time.monotonic() < deadline, "the check did not wait for the decision lock"
            time.sleep(0.02)
        same_customer = submit_as(acme, member=rival)
    checker.join(30)
    assert errors == []
    assert [c.other_registration_id for c in found] == [same_customer.pk]
