"""Webhook endpoints and their delivery log in the tenant admin: ops add an
endpoint (URL checked, events from the declarations) and see its secret
once; roll it, send a test event, enable a disabled endpoint; read the log
and send a delivery again. Other tenants' endpoints and deliveries are 404,
other roles 403."""

import re
import socket

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from prm.webhooks import events
from prm.webhooks.admin import event_choices
from prm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from scripts.verify_webhook import verify

from .conftest import SAMPLE, make_endpoint

pytestmark = pytest.mark.django_db

ADD = reverse("tenant_admin:webhooks_webhookendpoint_add")
ENDPOINTS = reverse("tenant_admin:webhooks_webhookendpoint_changelist")
DELIVERIES = reverse("tenant_admin:webhooks_webhookdelivery_changelist")
PUBLIC_IP = "93.184.215.14"
SECRET = re.compile(r'data-testid="secret-value">(whsec_[A-Za-z0-9_-]+)<')


def change_url(obj) -> str:
    return reverse(f"tenant_admin:webhooks_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.com resolves to a public address; other names as usual."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port or 443))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def add_form(url="https://hooks.example.com/prm", **extra) -> dict:
    return {"url": url, "description": "Our CRM", "events": [SAMPLE], **extra}


class TestAdding:
    def test_ops_add_an_endpoint_and_see_its_secret_once(self, acme, production_urls, public_dns):
        client = acme.client(Role.OPS_ADMIN)
        form = client.get(ADD)
        assert form.status_code == 200
        token = form.context["adminform"].form.initial["form_token"]
        response = client.post(ADD, add_form(form_token=str(token)))
        with acme.scope():
            endpoint = WebhookEndpoint.objects.get()
        assert response.status_code == 302 and response["Location"] == change_url(endpoint)
        page = client.get(change_url(endpoint)).content.decode()
        [shown] = SECRET.findall(page)
        assert shown == endpoint.secret and shown.startswith("whsec_") and len(shown) > 40
        assert "Copy it now" in page or "copy it now" in page
        # Never again: not on the next view, nor anywhere in the list.
        again = client.get(change_url(endpoint)).content.decode()
        assert shown not in again and not SECRET.findall(again)
        assert shown not in client.get(ENDPOINTS).content.decode()
        assert (endpoint.url, endpoint.events, endpoint.description) == (
            "https://hooks.example.com/prm",
            [SAMPLE],
            "Our CRM",
        )
        assert endpoint.created_by == acme[Role.OPS_ADMIN].user and endpoint.is_active
        with acme.scope():
            entry = AuditEntry.objects.get(action="webhooks.endpoint_added")
        assert entry.data == {"url": endpoint.url, "events": [SAMPLE]}
        assert endpoint.secret not in str(entry.data)

    def test_the_form_sent_twice_adds_one_endpoint(self, acme, production_urls, public_dns):
        client = acme.client(Role.OPS_ADMIN)
        token = client.get(ADD).context["adminform"].form.initial["form_token"]
        first = client.post(ADD, add_form(form_token=str(token)))
        second = client.post(ADD, add_form(form_token=str(token)))
        with acme.scope():
            endpoint = WebhookEndpoint.objects.get()
        assert first["Location"] == second["Location"] == change_url(endpoint)
        assert SECRET.findall(client.get(change_url(endpoint)).content.decode()) == [
            endpoint.secret
        ]

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
            ("https://10.20.30.40/hook", "10.20.30.40 is a private address"),
            ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
            ("https://[::1]/hook", "::1 is a loopback address"),
            ("https://[::ffff:10.0.0.1]/hook", "::ffff:10.0.0.1 is a private address"),
            ("https://localhost/hook", "“localhost” resolves to"),
            ("http://hooks.example.com/prm", "Use an https:// URL"),
            ("https://user:pw@hooks.example.com/prm", "Leave the user name and password out"),
        ],
    )
    def test_unsafe_urls_are_refused_with_the_reason(
        self, acme, production_urls, public_dns, url, message
    ):
        response = acme.client(Role.OPS_ADMIN).post(ADD, add_form(url=url))
        assert response.status_code == 200
        [error] = response.context["adminform"].form.errors["url"]
        assert message in error
        assert "public addresses only" in error or "https" in error or "password" in error
        with acme.scope():
            assert not WebhookEndpoint.objects.exists()

    def test_events_are_the_declared_ones_grouped_and_an_unknown_one_is_refused(
        self, acme, production_urls, public_dns
    ):
        groups = dict(event_choices())
        assert ("sample.happened", "Something happened to a sample (sample.happened)") in groups[
            "Sample"
        ]
        assert "Webhooks" not in groups  # the test event is sent on request only
        client = acme.client(Role.OPS_ADMIN)
        response = client.post(ADD, add_form(events=["sample.nonsense"]))
        assert "sample.nonsense is not one of the available choices" in str(
            response.context["adminform"].form.errors["events"]
        )
        response = client.post(ADD, add_form(events=[]))
        assert response.context["adminform"].form.errors["events"] == ["This field is required."]
        with acme.scope():
            assert not WebhookEndpoint.objects.exists()

    def test_a_change_checks_the_url_again(self, acme, production_urls, public_dns):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant)
        client = acme.client(Role.OPS_ADMIN)
        response = client.post(change_url(endpoint), add_form(url="https://192.168.1.10/x"))
        assert "192.168.1.10 is a private address" in str(
            response.context["adminform"].form.errors["url"]
        )
        response = client.post(
            change_url(endpoint), add_form(url="https://hooks.example.com/v2", events=[SAMPLE])
        )
        assert response.status_code == 302
        endpoint.refresh_from_db()
        assert endpoint.url == "https://hooks.example.com/v2"


class TestEndpointActions:
    def test_rolling_the_secret_asks_first_then_shows_the_new_one_once(self, acme):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, secret="whsec_before")
        client = acme.client(Role.OPS_ADMIN)
        asked = client.post(change_url(endpoint), {"_action": "roll"})
        assert asked.status_code == 200 and b"Roll the signing secret?" in asked.content
        endpoint.refresh_from_db()
        assert endpoint.secret == "whsec_before"
        done = client.post(change_url(endpoint), {"_action": "roll", "confirm": "yes"})
        assert done.status_code == 302
        endpoint.refresh_from_db()
        assert endpoint.secret != "whsec_before" and endpoint.previous_secret == "whsec_before"
        assert SECRET.findall(client.get(change_url(endpoint)).content.decode()) == [
            endpoint.secret
        ]
        assert not SECRET.findall(client.get(change_url(endpoint)).content.decode())

    def test_a_test_event_goes_to_that_endpoint_alone(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, receiver.url, ("sample.happened",))
            make_endpoint(acme.tenant, receiver.url.replace("/hooks/", "/other/"))
        client = acme.client(Role.OPS_ADMIN)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(change_url(endpoint), {"_action": "test"})
        assert response.status_code == 302
        [request] = receiver.received
        event = verify(request.body, request.headers["PRM-Signature"], endpoint.secret)
        assert event["type"] == "webhooks.ping" and request.path == "/hooks/prm"
        assert event["data"]["object"]["endpoint"] == str(endpoint.pk)
        with acme.scope():
            sent = WebhookDelivery.objects.get(endpoint=endpoint)
        assert sent.state == WebhookDelivery.State.SUCCEEDED
        assert client.get(change_url(endpoint)).context["log_states"]["succeeded"] == 1

    def test_a_disabled_endpoint_is_enabled_again(self, acme):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, is_active=False)
        client = acme.client(Role.OPS_ADMIN)
        page = client.get(change_url(endpoint))
        assert 'data-testid="action-enable"' in page.content.decode()
        assert client.post(change_url(endpoint), {"_action": "enable"}).status_code == 302
        endpoint.refresh_from_db()
        assert endpoint.is_active and endpoint.disabled_at is None
        # Enabled: the form is gone, and posting it again is refused.
        assert (
            'data-testid="action-enable"' not in client.get(change_url(endpoint)).content.decode()
        )
        assert client.post(change_url(endpoint), {"_action": "enable"}).status_code == 403

    def test_deleting_an_endpoint_takes_its_log(self, acme):
        with acme.scope():
            endpoint = make_endpoint(acme.tenant)
            with transaction.atomic():
                events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
        client = acme.client(Role.OPS_ADMIN)
        delete = reverse("tenant_admin:webhooks_webhookendpoint_delete", args=[endpoint.pk])
        asked = client.get(delete)
        assert asked.status_code == 200 and b"1 delivery of the delivery log" in asked.content
        assert client.post(delete, {"post": "yes"}).status_code == 302
        with acme.scope():
            assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def failed_delivery(world, url) -> WebhookDelivery:
    with world.scope():
        endpoint = make_endpoint(world.tenant, url)
        with transaction.atomic():
            event = events.emit(world.tenant, SAMPLE, {"id": "s-1"})
        sent = WebhookDelivery.objects.get(event=event, endpoint=endpoint)
        WebhookDelivery.objects.filter(pk=sent.pk).update(
            state=WebhookDelivery.State.FAILED, next_attempt_at=None, attempts=3
        )
        sent.refresh_from_db()
        return sent


class TestDeliveryLog:
    def test_the_log_lists_one_endpoint_and_shows_the_body_and_attempts(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        receiver.status = 500
        with acme.scope():
            endpoint = make_endpoint(acme.tenant, receiver.url)
            other = make_endpoint(acme.tenant, receiver.url.replace("/hooks/", "/other/"))
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                event = events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
        client = acme.client(Role.OPS_ADMIN)
        listed = client.get(DELIVERIES, {"endpoint": str(endpoint.pk)})
        [row] = listed.context["cl"].result_list
        assert row.endpoint == endpoint and row.event_id == event.pk
        assert len(client.get(DELIVERIES).context["cl"].result_list) == 2
        page = client.get(change_url(row))
        text = page.content.decode()
        assert str(event.pk) in text and "The receiver answered 500" in text
        assert '"api_version": "v1"' in page.context["request_body"]
        assert "&quot;api_version&quot;: &quot;v1&quot;" in text and "PRM-Signature" in text
        assert len(page.context["attempt_rows"]) == 1
        assert other.pk != endpoint.pk
        by_id = client.get(DELIVERIES, {"q": str(event.pk)})
        assert len(by_id.context["cl"].result_list) == 2

    def test_send_again_makes_a_new_attempt_now(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        sent = failed_delivery(acme, receiver.url)
        client = acme.client(Role.OPS_ADMIN)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(change_url(sent), {"_action": "resend"})
        assert response.status_code == 302
        sent.refresh_from_db()
        assert (sent.state, sent.attempts, sent.response_code) == ("succeeded", 4, 200)
        with acme.scope():
            attempt = WebhookAttempt.objects.get(delivery=sent)
        assert attempt.manual and attempt.number == 4
        # A succeeded one too: the receiver gets the same event id again.
        with django_capture_on_commit_callbacks(execute=True):
            client.post(change_url(sent), {"_action": "resend"})
        assert [r.headers["PRM-Event-Id"] for r in receiver.received] == [str(sent.event_id)] * 2

    def test_send_again_for_the_selected_rows(
        self, acme, receiver, local_urls, django_capture_on_commit_callbacks
    ):
        sent = failed_delivery(acme, receiver.url)
        client = acme.client(Role.OPS_ADMIN)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                DELIVERIES, {"action": "send_again", "_selected_action": [str(sent.pk)]}
            )
        assert response.status_code == 302
        sent.refresh_from_db()
        assert sent.state == "succeeded" and len(receiver.received) == 1

    def test_send_again_is_a_post_with_its_csrf_token(self, acme):
        sent = failed_delivery(acme, "https://hooks.example.com/prm")
        client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
        client.force_login(
            acme[Role.OPS_ADMIN].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        assert client.post(change_url(sent), {"_action": "resend"}).status_code == 403
        sent.refresh_from_db()
        assert sent.attempts == 3


class TestIsolation:
    def test_another_tenants_endpoints_and_deliveries_are_404(self, acme, globex):
        sent = failed_delivery(acme, "https://hooks.example.com/prm")
        intruder = globex.client(Role.OPS_ADMIN)
        for url in (change_url(sent.endpoint), change_url(sent)):
            assert intruder.get(url).status_code == 404
        assert intruder.post(change_url(sent), {"_action": "resend"}).status_code == 404
        assert intruder.post(change_url(sent.endpoint), {"_action": "test"}).status_code == 404
        listed = intruder.get(DELIVERIES, {"endpoint": str(sent.endpoint_id)})
        assert list(listed.context["cl"].result_list) == []
        bulk = intruder.post(
            DELIVERIES, {"action": "send_again", "_selected_action": [str(sent.pk)]}
        )
        assert bulk.status_code in (200, 302)
        with scopes_disabled():
            assert WebhookDelivery.objects.get(pk=sent.pk).attempts == 3
        assert str(sent.endpoint.url) not in intruder.get(ENDPOINTS).content.decode()

    @pytest.mark.parametrize(
        "role",
        [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE, Role.PARTNER_ADMIN, Role.PARTNER_USER],
    )
    def test_other_roles_get_403(self, acme, role):
        sent = failed_delivery(acme, "https://hooks.example.com/prm")
        client = acme.client(role)
        for url in (ENDPOINTS, ADD, change_url(sent.endpoint), DELIVERIES, change_url(sent)):
            assert client.get(url).status_code == 403, url
        assert client.post(change_url(sent), {"_action": "resend"}).status_code == 403
        assert client.post(change_url(sent.endpoint), {"_action": "roll"}).status_code == 403
        sent.refresh_from_db()
        assert sent.attempts == 3
