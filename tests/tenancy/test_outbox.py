"""The transactional outbox (prm.tenancy.outbox): work is written with the
change, handed over after commit or by the relay, runs once, and is retried
with back-off until it has run.

The probe task (tests/declared_app/tasks.py) writes an audit entry with no
key of its own: only the outbox makes it happen once. Tasks run eagerly here,
in the test's process, except where a test stops the broker.
"""

import logging
from datetime import datetime, timedelta

import psycopg
import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from dealreg.models import DealRegistration, RegistrationEvent
from prm.celery import app as celery_app
from prm.tenancy import outbox, services
from prm.tenancy.models import AuditEntry, Invitation, Notification, OutboxMessage
from prm.tenancy.roles import Role
from tests.dealreg.conftest import products, submit_as  # noqa: F401 (fixtures used below)
from tests.dealreg.test_conflicts import rival  # noqa: F401
from tests.declared_app import tasks as probe_tasks
from tests.outage import RedisServer, private_broker

PROBE = "tests.declared_app.tasks.probe"


def probes(key: str) -> int:
    with scopes_disabled():
        return AuditEntry.objects.filter(action="outbox.probe", object_id=key).count()


def row(message: OutboxMessage) -> OutboxMessage:
    with scopes_disabled():
        return OutboxMessage.objects.get(pk=message.pk)


def later(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def no_failures():
    probe_tasks.FAILURES.clear()
    yield
    probe_tasks.FAILURES.clear()


@pytest.mark.django_db
class TestWritingAndRunning:
    def test_a_rollback_forgets_the_work_with_the_change(
        self, acme, django_capture_on_commit_callbacks
    ):
        with (
            acme.scope(),
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            outbox.defer(acme.tenant, PROBE, key="rolled-back")
            raise RuntimeError("the change fails")
        assert callbacks == []
        with scopes_disabled():
            assert not OutboxMessage.objects.exists()
        assert probes("rolled-back") == 0

    def test_the_commit_hands_it_over_and_the_task_marks_it_done(
        self, acme, django_capture_on_commit_callbacks
    ):
        with acme.scope(), django_capture_on_commit_callbacks(execute=True):
            message = outbox.defer(acme.tenant, PROBE, key="committed")
            # Not due for the relay while the commit's own hand-over is pending.
            assert message.due_at > timezone.now() + timedelta(seconds=5)
        done = row(message)
        assert done.done_at is not None
        assert (done.attempts, done.state, done.last_error) == (1, "done", "")
        assert probes("committed") == 1
        assert outbox.relay(now=later(3 * 3600)) == 0  # nothing left to hand over

    def test_a_copy_of_a_done_message_does_nothing(self, acme):
        with acme.scope():
            message = outbox.defer(acme.tenant, PROBE, key="twice")
        kwargs = {"tenant_id": str(acme.tenant.pk), "outbox_id": str(message.pk), "key": "twice"}
        assert probe_tasks.probe.apply(kwargs=kwargs).get() == "twice"
        assert probe_tasks.probe.apply(kwargs=kwargs).get() is None
        assert probes("twice") == 1

    def test_a_failure_rolls_back_the_effect_and_is_retried_after_a_back_off(
        self, acme, django_capture_on_commit_callbacks, caplog
    ):
        probe_tasks.FAILURES["flaky"] = 2
        with (
            caplog.at_level(logging.WARNING, "prm.tenancy.outbox"),
            acme.scope(),
            django_capture_on_commit_callbacks(execute=True),
        ):
            message = outbox.defer(acme.tenant, PROBE, key="flaky")
        # The commit's hand-over ran it (eagerly, here) and it failed.
        failed = row(message)
        assert (failed.state, failed.attempts) == ("waiting", 1)
        assert failed.last_error == "RuntimeError: probe flaky failed on purpose"
        assert probes("flaky") == 0  # the effect rolled back with the failure
        assert "Deferred task tests.declared_app.tasks.probe failed" in caplog.text
        first_wait = failed.due_at - timezone.now()
        assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)

        assert outbox.relay(now=later(10)) == 0  # not due yet
        assert outbox.relay(now=later(31)) == 0  # handed over, failed again
        again = row(message)
        assert again.attempts == 2
        assert again.due_at - later(31) > timedelta(seconds=55)  # the wait doubles
        assert probes("flaky") == 0

        assert outbox.relay(now=later(120)) == 1
        assert row(message).state == "done"
        assert probes("flaky") == 1

    def test_the_relay_gives_up_after_every_attempt_and_a_person_can_retry(self, acme, caplog):
        with acme.scope():
            message = outbox.defer(acme.tenant, PROBE, key="stuck")
        with scopes_disabled():
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=outbox.MAX_ATTEMPTS, last_error="SMTPServerDisconnected: gone"
            )
        with caplog.at_level(logging.ERROR, "prm.tenancy.outbox"):
            assert outbox.relay(now=later(3 * 3600)) == 0
        given_up = row(message)
        assert given_up.gave_up_at is not None and given_up.state == "gave up"
        assert "given up after 30 attempt(s): SMTPServerDisconnected: gone" in caplog.text
        assert outbox.relay(now=later(6 * 3600)) == 0  # stays given up

        assert outbox.retry_given_up([given_up]) == 1
        assert outbox.relay() == 1
        assert row(message).state == "done"
        assert probes("stuck") == 1

    def test_an_unknown_task_waits_with_its_error_and_is_given_up_in_the_end(self, acme):
        with acme.scope():
            message = outbox.defer(acme.tenant, "nowhere.tasks.gone", key="x")
        assert outbox.relay(now=later(60)) == 0
        waiting = row(message)
        assert (waiting.state, waiting.attempts) == ("waiting", 1)
        assert waiting.last_error == "No task is registered as nowhere.tasks.gone."
        with scopes_disabled():
            OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS)
        assert outbox.relay(now=later(3 * 3600)) == 0
        assert row(message).state == "gave up"

    def test_a_deactivated_tenants_work_waits(self, acme):
        with acme.scope():
            message = outbox.defer(acme.tenant, PROBE, key="inactive")
        acme.tenant.is_active = False
        acme.tenant.save(update_fields=["is_active"])
        assert outbox.relay(now=later(60)) == 0
        assert row(message).state == "waiting"

    def test_done_rows_are_kept_a_week(self, acme, django_capture_on_commit_callbacks):
        with acme.scope(), django_capture_on_commit_callbacks(execute=True):
            message = outbox.defer(acme.tenant, PROBE, key="old")
            waiting = outbox.defer(acme.tenant, "nowhere.tasks.gone", key="y")
        assert outbox.purge_done(now=later(6 * 86400)) == 0
        assert outbox.purge_done(now=later(8 * 86400)) == 1
        with scopes_disabled():
            assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [waiting.pk]
        assert message.pk != waiting.pk


@pytest.mark.django_db
class TestEachKindRunsOnce:
    """Every kind of outbox work, handed over twice: one effect."""

    def run_twice(self, world, message: OutboxMessage):
        task = celery_app.tasks[message.task]
        kwargs = {**message.kwargs, "tenant_id": str(world.tenant.pk), "outbox_id": str(message.pk)}
        first = task.apply(kwargs=kwargs).get()
        second = task.apply(kwargs=kwargs).get()
        assert second is None  # the copy found its row done
        return first

    def only_message(self, task: str) -> OutboxMessage:
        with scopes_disabled():
            [message] = OutboxMessage.objects.filter(task=task, done_at__isnull=True)
        return message

    def test_conflict_check(self, acme, submit_as, rival):  # noqa: F811
        submit_as(acme)
        with acme.scope():
            registration = submit_as(acme, member=rival)  # the same customer
            message = outbox.defer(
                acme.tenant, "dealreg.tasks.check_conflicts", registration_id=str(registration.pk)
            )
            found = RegistrationEvent.objects.filter(
                registration=registration, kind=RegistrationEvent.Kind.CONFLICTS_FOUND
            )
            RegistrationEvent.objects.filter(pk__in=found.values("pk")).delete()
            DealRegistration.objects.filter(pk=registration.pk).update(
                conflict_state=DealRegistration.ConflictState.NOT_CHECKED
            )
        assert self.run_twice(acme, message) == 1
        with acme.scope():
            assert found.count() == 1
            registration.refresh_from_db()
            assert registration.conflict_state != DealRegistration.ConflictState.NOT_CHECKED

    def test_notification_mail(self, acme):
        with acme.scope():
            services.notify(acme.tenant, [acme[Role.FINANCE].user], kind="t", title="Once")
        message = self.only_message(services.SEND_NOTIFICATION_EMAIL)
        mail.outbox.clear()
        assert self.run_twice(acme, message) is True
        assert [m.subject for m in mail.outbox] == [f"[{acme.tenant.name}] Once"]
        with acme.scope():
            assert Notification.objects.get(title="Once").emailed_at is not None

    def test_invitation_mail_and_its_token_is_not_kept(self, acme):
        with acme.scope():
            invitation, token = services.invite(
                tenant=acme.tenant,
                by=acme[Role.OPS_ADMIN],
                email="once@example.test",
                role=Role.FINANCE,
            )
        message = self.only_message(services.SEND_INVITATION)
        assert message.kwargs["token"] == token
        mail.outbox.clear()
        assert self.run_twice(acme, message) is True
        [sent] = mail.outbox
        assert f"/invitations/{token}/" in sent.body
        assert row(message).kwargs == {"invitation_id": str(invitation.pk)}
        with acme.scope():
            assert Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.django_db(transaction=True)
class TestRelayAndBroker:
    @pytest.fixture
    def broker(self):
        """Tasks published to a private Redis, not started yet."""
        with private_broker(started=False) as redis:
            yield redis

    def queued(self, redis: RedisServer) -> int:
        import redis as redis_client

        return redis_client.Redis.from_url(redis.url).llen("celery")

    def test_a_broker_outage_delays_the_work_and_fails_nothing(self, acme, broker, caplog):
        with (
            caplog.at_level(logging.WARNING, "prm.tenancy.outbox"),
            acme.scope(),
            transaction.atomic(),  # the broker was never started
        ):
            message = outbox.defer(acme.tenant, PROBE, key="outage")
        # The commit's hand-over failed quietly: the row waits.
        assert "Broker unreachable" in caplog.text
        waiting = row(message)
        assert (waiting.state, waiting.attempts, waiting.sent_at) == ("waiting", 0, None)

        assert outbox.relay(now=later(11)) == 0  # still down: nothing sent, nothing lost
        assert row(message).state == "waiting"

        broker.start()
        assert outbox.relay(now=later(5)) == 0  # within the commit's grace
        assert outbox.relay(now=later(11)) == 1
        assert self.queued(broker) == 1
        sent = row(message)
        assert (sent.state, sent.attempts) == ("sent", 1)
        assert sent.due_at - sent.sent_at == timedelta(seconds=120)  # the lease

        # Redis restarts without persistence: the message is lost with it.
        broker.stop()
        broker.start()
        assert self.queued(broker) == 0
        assert outbox.relay(now=later(60)) == 0  # its task may still be running
        assert outbox.relay(now=later(11 + 121)) == 1  # not done in time: handed over again
        assert self.queued(broker) == 1
        assert row(message).attempts == 2

    def test_the_relay_skips_a_row_a_running_task_holds(self, acme, broker):
        broker.start()
        with acme.scope():
            message = outbox.defer(acme.tenant, PROBE, key="held")
        settings = connection.settings_dict
        with psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"],
            user=settings["USER"],
            dbname=settings["NAME"],
            autocommit=False,
        ) as other:
            other.execute(
                "SELECT 1 FROM tenancy_outboxmessage WHERE id = %s FOR UPDATE", [message.pk]
            )
            assert outbox.relay(now=later(3600)) == 0
            other.rollback()
        assert outbox.relay(now=later(3600)) == 1


@pytest.mark.django_db
def test_the_platform_admin_lists_given_up_work_and_hands_it_over_again(acme, globex):
    from django.test import Client

    from tests import factories

    with acme.scope():
        stuck = outbox.defer(acme.tenant, PROBE, key="admin-stuck")
    with globex.scope():
        waiting = outbox.defer(globex.tenant, PROBE, key="admin-waiting")
    with scopes_disabled():
        OutboxMessage.objects.filter(pk=stuck.pk).update(
            gave_up_at=timezone.now(), attempts=30, last_error="SMTPRecipientsRefused: nobody"
        )
    root = Client(HTTP_HOST="localhost")
    root.force_login(
        factories.make_user("root@platform.test", is_superuser=True),
        backend="prm.tenancy.auth.TenantAuthenticationBackend",
    )
    url = "/admin/tenancy/outboxmessage/"
    page = root.get(url, {"state": "gave_up"}).content.decode()
    assert "SMTPRecipientsRefused: nobody" in page and acme.tenant.name in page
    assert globex.tenant.name not in page  # only the given-up row
    assert globex.tenant.name in root.get(url, {"state": "pending"}).content.decode()

    response = root.post(
        url, {"action": "hand_over_again", "_selected_action": [stuck.pk, waiting.pk]}, follow=True
    )
    assert "1 deferred task will be handed over within seconds." in response.content.decode()
    again = row(stuck)
    assert (again.state, again.attempts) == ("waiting", 0)
    assert outbox.relay() == 1  # due at once (the globex row still waits its grace)
    assert probes("admin-stuck") == 1
    assert row(waiting).state == "waiting"

    member = acme.client(Role.OPS_ADMIN)
    member.defaults["HTTP_HOST"] = "localhost"
    assert member.get(url).status_code == 302  # superusers only
