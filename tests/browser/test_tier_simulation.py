"""The draft tier criteria's simulation page and the draft's page, in a
browser: at a desktop (1366 px) and a phone (390 px) width the counts, the
matrix and the partners that would move are shown, nothing spills out of
the window but the matrix's own scrolling box, axe-core finds no serious
or critical violation in the page's content and the Content-Security-Policy
is kept."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from prm.tenancy.roles import Role
from program import criteria
from program.models import CriteriaVersion, TierCriterion, TierTarget
from tests.program import builders as b

from .a11y import FAILING_IMPACTS, inject_axe

AXE_ON_CONTENT = """
async (impacts) => {
  const result = await axe.run("[data-testid=simulation]", {resultTypes: ["violations"]});
  return result.violations.filter((v) => impacts.includes(v.impact))
    .map((v) => v.impact + " " + v.id + ": " + v.help);
}
"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def site_data(world) -> str:
    """Published v1 (Gold from 250,000 won), a draft asking 350,000: the
    world's partner (300,000) would move down to Silver."""
    with world.scope():
        tiers = b.ladder(world)
        b.version(
            world,
            {
                tiers["Silver"]: (0, [(b.Kind.WON_REVENUE, "100000", True, None)]),
                tiers["Gold"]: (0, [(b.Kind.WON_REVENUE, "250000", True, None)]),
            },
        )
        b.win(world, world.partner, "300000", on=world.tenant.local_today() - dt.timedelta(days=3))
        draft = criteria.new_draft(world.tenant, by=world[Role.OPS_ADMIN].user)
        target = TierTarget.objects.get(version=draft, tier=tiers["Gold"])
        TierCriterion.objects.filter(target=target).update(threshold=Decimal("350000"))
        assert CriteriaVersion.objects.count() == 2
    return reverse("tenant_admin:program_criteriaversion_simulate")


@pytest.mark.parametrize("width", [1366, 390])
def test_the_simulation_in_a_browser(site, artifacts, width):
    page, console = site.new_page(Role.OPS_ADMIN, width=width)
    page.goto(site.url(site.data))
    content = page.locator("[data-testid=simulation]")
    assert content.is_visible()
    assert page.locator("[data-testid=sim-down]").inner_text() == "1"
    assert site.world.partner.name in page.locator("[data-testid=sim-movers]").inner_text()
    inject_axe(page)
    problems = page.evaluate(AXE_ON_CONTENT, list(FAILING_IMPACTS))
    problems += [f"CSP: {v}" for v in console.csp_violations()]
    for testid in ("sim-counts", "sim-movers", "sim-no-impact"):
        box = page.locator(f"[data-testid={testid}]").bounding_box()
        assert box is not None, testid
        if box["x"] + box["width"] > width:
            problems.append(f"{testid} is {box['x'] + box['width']} px wide in {width} px")
    page.screenshot(path=artifacts / f"tier_simulation_{width}.png", full_page=True)
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [1366, 390])
def test_the_draft_page_in_a_browser(site, artifacts, width):
    with site.world.scope():
        draft = CriteriaVersion.objects.get(status=CriteriaVersion.Status.DRAFT)
    page, console = site.new_page(Role.OPS_ADMIN, width=width)
    page.goto(site.url(reverse("tenant_admin:program_criteriaversion_change", args=[draft.pk])))
    summary = page.locator("[data-testid=version-summary]")
    assert summary.is_visible()
    assert page.locator("[data-testid=publish]").is_visible()
    box = summary.bounding_box()
    problems = [f"CSP: {v}" for v in console.csp_violations()]
    if box is None or box["x"] + box["width"] > width:
        problems.append(f"the summary does not fit {width} px: {box}")
    page.screenshot(path=artifacts / f"tier_draft_{width}.png", full_page=True)
    page.context.close()
    assert not problems, "\n".join(problems)
