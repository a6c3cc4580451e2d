"""Webhooks in the tenant admin, in a browser: ops add an endpoint (a real
receiver on this machine), copy the secret shown once, send a test event
that the receiver gets signed, and read it in the delivery log; the
endpoint's page and a delivery's page fit a desktop (1366 px) and a phone
(390 px), keep the Content-Security-Policy and pass axe-core."""

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from prm.tenancy.roles import Role
from prm.webhooks import events
from prm.webhooks.models import WebhookDelivery, WebhookEndpoint
from scripts.verify_webhook import verify
from tests.webhooks import receiver as receivers
from tests.webhooks.conftest import SAMPLE, make_endpoint

from .a11y import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def site_data(world) -> dict:
    """A receiver on 127.0.0.1 that answers 500 (so the log has a failed
    attempt to show) and an endpoint with one delivery tried once."""
    failing = receivers.start()
    failing.status = 500
    with world.scope():
        endpoint = make_endpoint(world.tenant, failing.url + "?source=prm&long=" + "x" * 120)
        with transaction.atomic():  # committed: delivered (eagerly) after
            event = events.emit(world.tenant, SAMPLE, {"id": "s-1", "name": "A sample"})
        delivered = WebhookDelivery.objects.get(event=event)
    return {"endpoint": endpoint, "delivery": delivered, "failing": failing}


def test_ops_add_an_endpoint_and_send_it_a_test_event(site, artifacts):
    assert settings.WEBHOOKS_ALLOW_PRIVATE_URLS  # a receiver on this machine
    receiver = receivers.start()
    page, console = site.new_page(Role.OPS_ADMIN)
    page.goto(site.url(reverse("tenant_admin:webhooks_webhookendpoint_add")))
    page.fill("input[name=url]", receiver.url)
    page.fill("input[name=description]", "Our CRM")
    page.get_by_label("Something happened to a sample (sample.happened)").check()
    page.get_by_role("button", name="Save", exact=True).click()
    secret = page.locator("[data-testid=secret-value]").inner_text()
    with site.world.scope():
        endpoint = WebhookEndpoint.objects.get(url=receiver.url)
    assert secret == endpoint.secret
    page.get_by_role("button", name="Send a test event").click()
    assert page.locator(".messagelist").inner_text().startswith("A test event")
    [request] = receiver.received
    assert verify(request.body, request.headers["PRM-Signature"], secret)["type"] == (
        "webhooks.ping"
    )
    assert page.locator("[data-testid=secret]").count() == 0  # once only
    page.locator("[data-testid=log-link]").click()
    page.locator("#result_list").get_by_role("link", name="webhooks.ping").click()
    assert page.locator("[data-testid=attempts]").inner_text().count("Attempt 1") == 1
    assert console.csp_violations() == []
    page.screenshot(path=artifacts / "webhooks_delivery_journey.png", full_page=True)
    page.context.close()
    receiver.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_endpoint_and_delivery_pages_fit(site, artifacts, width):
    data = site.data
    problems = []
    for name, obj, boxes in (
        ("endpoint", data["endpoint"], ("endpoint-summary", "action-test", "action-roll")),
        ("delivery", data["delivery"], ("delivery-summary", "request-body", "attempts")),
    ):
        page, console = site.new_page(Role.OPS_ADMIN, width=width)
        admin = f"tenant_admin:webhooks_{obj._meta.model_name}_change"
        page.goto(site.url(reverse(admin, args=[obj.pk])))
        for testid in boxes:
            box = page.locator(f"[data-testid={testid}]").bounding_box()
            if box is None or box["x"] + box["width"] > width:
                problems.append(f"{name}: {testid} does not fit {width} px: {box}")
        problems += [f"{name}: {p}" for p in check_page(page, scroll=False)]
        problems += [f"{name}: CSP {v}" for v in console.csp_violations()]
        page.screenshot(path=artifacts / f"webhooks_{name}_{width}.png", full_page=True)
        page.context.close()
    assert not problems, "\n".join(problems)
