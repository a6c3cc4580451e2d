"""Delivering webhooks to a real HTTP receiver on 127.0.0.1: signed after
commit, retried with growing waits for 24 hours then failed, the endpoint
disabled after 3 days of failures (ops told), a slow receiver cut at the
timeout, two sweeps never sending one delivery at once."""

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django_scopes import scopes_disabled

from prm.tenancy.models import Notification, OutboxMessage
from prm.tenancy.roles import Role
from prm.webhooks import delivery, events, services
from prm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from scripts.verify_webhook import InvalidSignature, verify
from tests.concurrency import run_together, values

from .conftest import SAMPLE, make_endpoint

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
State = WebhookDelivery.State


def emit_committed(world, callbacks_fixture, data=None) -> WebhookDelivery:
    """Emit the sample event in a committed transaction (its outbox
    hand-over runs the delivery task eagerly) and return its delivery."""
    with world.scope():
        with callbacks_fixture(execute=True), transaction.atomic():
            event = events.emit(world.tenant, SAMPLE, data or {"id": "s-1"})
        return WebhookDelivery.objects.select_related("endpoint").get(event=event)


def fresh(found: WebhookDelivery) -> WebhookDelivery:
    with scopes_disabled():
        return WebhookDelivery.objects.select_related("endpoint").get(pk=found.pk)


@pytest.mark.django_db
class TestDelivered:
    def test_after_commit_it_arrives_signed_and_the_verifier_accepts_it(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, receiver.url, secret="whsec_abc")
        sent = emit_committed(acme, django_capture_on_commit_callbacks, {"id": "s-1", "n": 2})
        [request] = receiver.received
        assert request.path == "/hooks/prm"
        headers = request.headers
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("PRM-Webhooks/")
        assert headers["PRM-Event-Id"] == str(sent.event_id)
        assert headers["PRM-Event-Type"] == SAMPLE
        event = verify(request.body, headers["PRM-Signature"], "whsec_abc")
        assert event["id"] == str(sent.event_id)
        assert event["data"] == {"object": {"id": "s-1", "n": 2}}
        # Someone else's secret, a changed body, a replay after 5 minutes:
        with pytest.raises(InvalidSignature, match="No signature matches"):
            verify(request.body, headers["PRM-Signature"], "whsec_other")
        with pytest.raises(InvalidSignature, match="No signature matches"):
            verify(request.body.replace(b'"n":2', b'"n":3'), headers["PRM-Signature"], "whsec_abc")
        stamp = int(headers["PRM-Signature"].split(",")[0].removeprefix("t="))
        with pytest.raises(InvalidSignature, match="too old"):
            verify(request.body, headers["PRM-Signature"], "whsec_abc", now=stamp + 301)
        assert verify(request.body, headers["PRM-Signature"], "whsec_abc", now=stamp + 299)

        done = fresh(sent)
        assert (done.state, done.attempts, done.response_code) == (State.SUCCEEDED, 1, 200)
        assert done.next_attempt_at is None and done.response_body == '{"ok": true}'
        with scopes_disabled():
            [attempt] = WebhookAttempt.objects.filter(delivery=done)
            message = OutboxMessage.objects.get(task=events.DELIVER_TASK)
        assert attempt.request_headers["PRM-Signature"] == headers["PRM-Signature"]
        assert (attempt.address, attempt.response_code, attempt.error) == ("127.0.0.1", 200, "")
        assert attempt.finished_at is not None and attempt.duration_ms is not None
        assert message.done_at is not None
        assert endpoint.pk == done.endpoint_id

    def test_a_rolled_secret_signs_beside_the_old_one_for_a_day(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, receiver.url, secret="whsec_old")
            new = services.roll_secret(endpoint, by=acme[Role.OPS_ADMIN].user)
        assert new.startswith("whsec_") and new != "whsec_old"
        emit_committed(acme, django_capture_on_commit_callbacks)
        request = receiver.received[-1]
        for secret in ("whsec_old", new):
            verify(request.body, request.headers["PRM-Signature"], secret)
        with time_machine.travel(datetime.now(UTC) + timedelta(hours=25)):
            emit_committed(acme, django_capture_on_commit_callbacks)
        request = receiver.received[-1]
        verify(request.body, request.headers["PRM-Signature"], new, now=time.time() + 25 * 3600)
        with pytest.raises(InvalidSignature):
            verify(request.body, request.headers["PRM-Signature"], "whsec_old", now=time.time())

    def test_a_redirect_is_not_followed(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        receiver.status = 302
        with acme.scope():
            make_endpoint(acme.tenant, receiver.url)
        sent = fresh(emit_committed(acme, django_capture_on_commit_callbacks))
        assert sent.state == State.PENDING and sent.response_code == 302
        assert sent.error.startswith("Redirects are not followed")


@pytest.mark.django_db
class TestRetries:
    def test_a_failing_receiver_is_retried_with_growing_waits_then_failed_after_a_day(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        receiver.status = 500
        receiver.answer = b"database is down"
        with time_machine.travel(T0, tick=False) as clock:
            with acme.scope():
                endpoint = make_endpoint(acme.tenant, receiver.url)
            sent = emit_committed(acme, django_capture_on_commit_callbacks)
            tried_at = [T0]
            while (sent := fresh(sent)).state == State.PENDING:
                assert delivery.sweep() == 0  # not due yet
                clock.move_to(sent.next_attempt_at)
                assert delivery.sweep() == 1
                tried_at.append(sent.next_attempt_at)
        waits = [(b - a) / timedelta(minutes=1) for a, b in itertools.pairwise(tried_at)]
        assert waits == [1, 2, 4, 8, 16, 32] + [60] * 22
        assert tried_at[-1] <= T0 + timedelta(hours=24) < tried_at[-1] + timedelta(hours=1)
        assert (sent.state, sent.attempts, sent.next_attempt_at) == (State.FAILED, 29, None)
        assert (sent.response_code, sent.response_body) == (500, "database is down")
        assert sent.error == "The receiver answered 500 Internal Server Error."
        assert len(receiver.received) == 29
        assert len({r.headers["PRM-Event-Id"] for r in receiver.received}) == 1
        with scopes_disabled():
            numbers = list(
                WebhookAttempt.objects.filter(delivery=sent).values_list("number", flat=True)
            )
            endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
        assert numbers == list(range(1, 30))
        assert endpoint.is_active and endpoint.failing_since == T0

    def test_an_endpoint_failing_for_three_days_is_disabled_and_ops_are_told(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        receiver.status = 503
        with time_machine.travel(T0, tick=False) as clock:
            with acme.scope():
                endpoint = make_endpoint(acme.tenant, receiver.url)
            first = emit_committed(acme, django_capture_on_commit_callbacks)
            clock.move_to(T0 + timedelta(days=2))
            second = emit_committed(acme, django_capture_on_commit_callbacks)
            assert fresh(second).endpoint.is_active
            clock.move_to(T0 + timedelta(days=3))
            third = emit_committed(acme, django_capture_on_commit_callbacks)
        endpoint = fresh(third).endpoint
        assert not endpoint.is_active
        assert endpoint.disabled_at == T0 + timedelta(days=3)
        assert endpoint.disabled_reason == "Every attempt since 2026-03-02 09:00 failed."
        # What was still to retry is failed; nothing more is sent to it.
        assert [fresh(d).state for d in (first, second, third)] == [State.FAILED] * 3
        assert fresh(first).error == "Not sent: the endpoint is disabled."
        assert fresh(third).error == "The receiver answered 503 Service Unavailable."
        with acme.scope():
            note = Notification.objects.get(kind=delivery.DISABLED_KIND)
            after = len(receiver.received)
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                events.emit(acme.tenant, SAMPLE, {"id": "s-9"})
        assert len(receiver.received) == after
        assert note.user == acme[Role.OPS_ADMIN].user
        assert note.title == f"Webhook endpoint disabled: {receiver.url}"
        assert note.url == f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"
        assert [m.to for m in mail.outbox] == [[acme[Role.OPS_ADMIN].user.email]]

    def test_a_success_clears_the_failing_streak(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        receiver.status = 500
        with time_machine.travel(T0, tick=False) as clock:
            with acme.scope():
                make_endpoint(acme.tenant, receiver.url)
            sent = emit_committed(acme, django_capture_on_commit_callbacks)
            assert fresh(sent).endpoint.failing_since == T0
            receiver.status = 204
            clock.move_to(T0 + timedelta(minutes=1))
            assert delivery.sweep() == 1
            assert fresh(sent).state == State.SUCCEEDED
            assert fresh(sent).endpoint.failing_since is None
            clock.move_to(T0 + timedelta(days=3, minutes=2))
            receiver.status = 500
            sent = emit_committed(acme, django_capture_on_commit_callbacks)
        assert fresh(sent).endpoint.is_active  # failing for a minute, not for 3 days

    def test_a_lost_attempt_is_tried_again_when_its_lease_is_over(self, acme, receiver, local_urls):
        """The worker died between claiming and recording: the sweep takes
        the delivery again once the lease is over, and the log says so."""
        with time_machine.travel(T0, tick=False) as clock, acme.scope():
            make_endpoint(acme.tenant, receiver.url)
            with transaction.atomic():
                event = events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
            sent = WebhookDelivery.objects.get(event=event)
            lost = delivery.claim(str(sent.pk))
            assert lost is not None and delivery.claim(str(sent.pk)) is None
            clock.move_to(T0 + delivery.LEASE - timedelta(seconds=1))
            assert delivery.sweep() == 0
            clock.move_to(T0 + delivery.LEASE)
            assert delivery.sweep() == 1
            lost.refresh_from_db()
        assert lost.finished_at == T0 + delivery.LEASE and lost.error == delivery.LOST
        assert fresh(sent).state == State.SUCCEEDED and fresh(sent).attempts == 2
        assert len(receiver.received) == 1


@pytest.mark.django_db
def test_an_endpoint_deleted_while_its_attempt_waits_is_no_error(acme, receiver, local_urls):
    with acme.scope():
        endpoint = make_endpoint(acme.tenant, receiver.url)
        with transaction.atomic():
            event = events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
        attempt = delivery.claim(str(event.deliveries.get().pk))
        assert attempt is not None
        endpoint.delete()
        assert delivery.send(attempt) is attempt
        assert not WebhookAttempt.objects.exists()
    assert receiver.received == []


@pytest.mark.django_db
class TestTimeouts:
    @pytest.mark.parametrize("slowness", ["delay", "dribble"])
    def test_a_slow_receiver_is_cut_at_the_timeout_and_recorded(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks, slowness
    ):
        """Sleeping before answering, or answering a byte every 0.2 s (each
        read is quick, the whole is not): cut after 1 s either way."""
        if slowness == "delay":
            receiver.delay = 3
        else:
            receiver.dribble = 0.2
        with acme.scope():
            make_endpoint(acme.tenant, receiver.url)
        started = time.monotonic()
        sent = fresh(emit_committed(acme, django_capture_on_commit_callbacks))
        assert time.monotonic() - started < 2.5
        assert sent.state == State.PENDING and sent.attempts == 1
        assert sent.error == "No complete answer within 1 s: timed out."
        assert sent.response_code is None and 900 <= sent.duration_ms < 2000

    def test_a_closed_port_is_a_failed_attempt(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        url = receiver.url
        receiver.close()
        with acme.scope():
            make_endpoint(acme.tenant, url)
        sent = fresh(emit_committed(acme, django_capture_on_commit_callbacks))
        assert sent.state == State.PENDING and sent.error == "The connection was refused."


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_never_send_one_delivery_at_once(acme, receiver, local_urls):
    receiver.delay = 0.5
    with acme.scope():
        make_endpoint(acme.tenant, receiver.url)
        # Outside a transaction an event could not commit with its change.
        with pytest.raises(TransactionManagementError, match="inside the transaction"):
            events.emit(acme.tenant, SAMPLE, {"id": "s-0"})
        with transaction.atomic():
            event = events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
    # (The outbox's hand-over ran after that commit, eagerly: the delivery
    # is done; a second event's delivery is made due for the sweeps alone.)
    receiver.received.clear()
    with scopes_disabled():
        WebhookDelivery.objects.filter(event=event).update(
            state=State.PENDING, next_attempt_at=datetime.now(UTC)
        )
    claimed = values(run_together(acme, delivery.sweep, delivery.sweep, delivery.sweep))
    assert sorted(claimed) == [0, 0, 1]
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["id"] == str(event.pk)
