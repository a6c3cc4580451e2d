"""The "Health" panel on a partner's admin page, in a browser: at a desktop
(1366 px) and a phone (390 px) width, axe-core finds no serious or critical
violation, the Content-Security-Policy is kept, and the panel itself fits
the window (the admin around it is not laid out for phones)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from prm.tenancy.roles import Role
from reporting.health import backfill_health
from reporting.models import AtRiskEpisode

from .a11y import FAILING_IMPACTS, inject_axe

# axe on the panel only: the admin form above it is Django's (its contact
# inline's unlabelled cells are the admin's own, checked elsewhere).
AXE_ON_PANEL = """
async (impacts) => {
  const result = await axe.run("#health", {resultTypes: ["violations"]});
  return result.violations.filter((v) => impacts.includes(v.impact))
    .map((v) => v.impact + " " + v.id + ": " + v.help);
}
"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def site_data(world) -> str:
    """Three days of history, 70 days after the partners joined: never
    registered, they are at risk."""
    with world.scope():
        backfill_health(world.tenant, 3, now=timezone.now() + timedelta(days=70))
        assert AtRiskEpisode.objects.filter(partner=world.partner, closed_on=None).exists()
    return reverse("tenant_admin:partners_partner_change", args=[world.partner.pk])


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER])
def test_the_health_panel_in_a_browser(site, artifacts, role, width):
    page, console = site.new_page(role, width=width)
    page.goto(site.url(site.data))
    panel = page.locator("#health")
    assert panel.is_visible()
    assert "At risk since" in panel.inner_text()
    inject_axe(page)
    problems = page.evaluate(AXE_ON_PANEL, list(FAILING_IMPACTS))
    problems += [f"CSP: {v}" for v in console.csp_violations()]
    box = panel.bounding_box()
    assert box is not None
    if box["x"] + box["width"] > width:
        problems.append(f"the panel is {box['x'] + box['width']} px wide in {width} px")
    panel.screenshot(path=artifacts / f"health_panel_{role}_{width}.png")
    page.context.close()
    assert not problems, "\n".join(problems)
