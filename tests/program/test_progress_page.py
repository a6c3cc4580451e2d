"""The partner's "Tier progress" page: the next tier's criteria in words
with their progress bars and what is missing, the headline, required and
counted criteria, a hold, a grace period, an upgrade waiting for the review,
the ladder and the history; no criteria published; roles; a constant number
of queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from prm.tenancy.roles import PARTNER_ROLES, STAFF_ROLES, Role
from program import progress
from program.models import QualificationSettings, TierHold, TierStanding

from . import builders as b
from .builders import TODAY, noon

pytestmark = pytest.mark.django_db
Kind = b.Kind
URL = "/program/tiers/"


@pytest.fixture
def tiers(world):
    found = b.ladder(world)
    found["Gold"].benefits = "45 % discount\n90 days of deal protection"
    found["Gold"].save()
    found["Silver"].benefits = "35 % discount"
    found["Silver"].save()
    return found


@pytest.fixture
def two_of_three(world, tiers):
    """Silver partner, Gold needs 3 certified engineers, it has 2."""
    cert = b.engineering(world)
    b.engineers_ladder(world, tiers, cert, gold=3)
    b.at_tier(world, world.partner, tiers["Silver"])
    b.certify(world, [world[Role.PARTNER_ADMIN], world[Role.PARTNER_USER]], cert)
    return cert


def page(world, role=Role.PARTNER_ADMIN):
    response = world.client(role).get(URL)
    assert response.status_code == 200
    return response, response.content.decode()


class TestNextTier:
    def test_one_engineer_short_of_gold(self, world, tiers, two_of_three):
        response, html = page(world)
        assert response.context["p"].headline == "1 more certified engineer to Gold"
        assert 'data-testid="headline">1 more certified engineer to Gold<' in html
        nxt = response.context["p"].next
        assert nxt.tier == tiers["Gold"]
        standing = "2 of 3 certified engineers (Certified Engineer)"
        assert [ln.standing for ln in nxt.lines] == [standing]
        assert [ln.share for ln in nxt.lines] == [66]
        assert 'value="66" max="100"' in html
        assert "Missing: 1 more certified engineer" in html
        # Where to act on it: the training page.
        assert reverse("onboarding:training") in html

    def test_what_the_tier_gives_and_the_ladder(self, world, tiers, two_of_three):
        response, html = page(world)
        assert "35 % discount" in html  # Silver, held
        assert "90 days of deal protection" in html  # Gold, on the ladder
        rungs = response.context["p"].rungs
        assert [r.tier.name for r in rungs] == ["Platinum", "Gold", "Silver", "Registered"]
        assert [r.current for r in rungs] == [False, False, True, False]
        # Platinum has no criteria in this version: by invitation.
        assert [r.by_invitation for r in rungs] == [True, False, False, False]
        assert 'data-testid="current-rung"' in html

    def test_what_keeps_the_tier_held(self, world, tiers, two_of_three):
        response, html = page(world)
        keep = response.context["p"].keep
        assert keep.tier == tiers["Silver"] and keep.qualifies
        assert "What keeps you in Silver" in html
        # Above the threshold: not "2 of 1 certified engineer".
        assert keep.lines[0].standing == "2 certified engineers, 1 needed (Certified Engineer)"
        assert "2 of 1" not in html

    def test_the_tier_history(self, world, tiers, two_of_three):
        response, html = page(world)
        change = response.context["p"].history[0]
        assert (change.previous, change.tier) == (tiers["Gold"], tiers["Silver"])
        assert "Gold → <strong>Silver</strong>" in html
        assert "Changed by ops" in html

    def test_revenue_in_words_with_the_deal_list(self, world, tiers):
        b.version(
            world,
            {
                tiers["Silver"]: (0, [(Kind.WON_REVENUE, "100000", True, None)]),
                tiers["Gold"]: (0, [(Kind.WON_REVENUE, "250000", True, None)]),
            },
        )
        b.at_tier(world, world.partner, tiers["Silver"])
        b.win(world, world.partner, "180000", on=TODAY - dt.timedelta(days=20))
        response, html = page(world)
        assert "180,000.00 USD of 250,000.00 USD won in the last 12 months" in html
        assert response.context["p"].headline == "70,000.00 USD more won revenue to Gold"
        assert f"{reverse('dealreg:list')}?status=won" in html

    def test_counted_criteria_read_as_n_of_these(self, world, tiers):
        cert = b.engineering(world)
        b.version(
            world,
            {
                tiers["Silver"]: (0, []),
                tiers["Gold"]: (
                    2,
                    [
                        (Kind.WON_REVENUE, "250000", True, None),
                        (Kind.APPROVED, "3", False, None),
                        (Kind.CERTIFIED, "2", False, cert),
                        (Kind.AGREEMENTS, "0", False, None),
                    ],
                ),
            },
        )
        b.at_tier(world, world.partner, tiers["Silver"])
        response, html = page(world)
        nxt = response.context["p"].next
        assert nxt.counted_phrase == "2 of 3 of these"
        assert "Meet 2 of 3 of these" in html
        assert [ln.label for ln in nxt.required_lines] == ["Won revenue, last 12 months"]
        # Agreements are met (none owed): one more of the other two is needed.
        assert nxt.counted_met == 1
        assert response.context["p"].headline.startswith("2 things to do for Gold")


class TestBanners:
    def test_grace_period(self, world, tiers, two_of_three):
        b.at_tier(world, world.partner, tiers["Gold"])
        TierStanding.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            qualifying_tier=tiers["Silver"],
            evaluated_on=TODAY,
            evaluated_at=noon(TODAY),
            grace_until=dt.date(2026, 9, 12),
        )
        response, html = page(world)
        assert (
            "You keep Gold through 12 Sep 2026; meet its criteria by then or you move to Silver."
            in html
        )
        assert response.context["p"].headline == "1 more certified engineer to keep Gold"
        # Platinum is by invitation: what keeps Gold is all there is to reach.
        assert [s["key"] for s in response.context["sections"]] == ["keep"]

    def test_hold_shows_the_end_not_the_reason(self, world, tiers, two_of_three):
        TierHold.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            tier=tiers["Silver"],
            reason="Strategic account under renegotiation",
            starts_on=TODAY - dt.timedelta(days=3),
            ends_on=dt.date(2026, 12, 31),
        )
        _, html = page(world)
        assert "held in Silver by the vendor until 31 Dec 2026" in html
        assert "renegotiation" not in html

    def test_upgrade_waiting_for_the_review(self, world, tiers, two_of_three):
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.upgrades = policy.Upgrades.AT_REVIEW
        policy.schedule = policy.Schedule.MONTHLY
        policy.save()
        b.certify(world, b.people(world, world.partner, 1), two_of_three)
        response, html = page(world)
        assert response.context["p"].upgrade_waits_until == dt.date(2026, 7, 1)
        assert "you move to Gold on 1 Jul 2026" in html
        assert response.context["p"].headline == (
            "You qualify for Gold: it applies at the next review"
        )


class TestNoCriteria:
    def test_tiers_assigned_by_the_vendor(self, world, tiers):
        response, html = page(world)
        assert "Tiers are assigned by the vendor" in html
        assert response.context["p"].next is None
        assert 'data-testid="ladder"' in html
        assert "Registered" in html and "Platinum" in html
        assert "By invitation" not in html


class TestAccess:
    @pytest.mark.parametrize("role", sorted(STAFF_ROLES))
    def test_staff_get_403(self, world, role):
        assert world.client(role).get(URL).status_code == 403

    @pytest.mark.parametrize("role", sorted(PARTNER_ROLES))
    def test_partner_roles_see_their_own(self, world, tiers, two_of_three, role):
        response, _ = page(world, role)
        assert response.context["p"].partner == world.partner

    def test_anonymous_goes_to_log_in(self, world):
        response = world.client().get(URL)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_the_other_tenants_partner_sees_only_its_own(self, world, globex, tiers, two_of_three):
        with globex.scope():
            response = globex.client(Role.PARTNER_ADMIN).get(URL)
            assert response.status_code == 200
            found = response.context["p"]
            assert found.partner == globex.partner and not found.published
            html = response.content.decode()
        assert "Certified Engineer" not in html and world.partner.name not in html


class TestQueries:
    def test_constant_whatever_the_criteria_and_history(
        self, world, tiers, two_of_three, django_assert_max_num_queries
    ):
        client = world.client(Role.PARTNER_ADMIN)
        client.get(URL)
        with django_assert_max_num_queries(QUERIES) as small:
            client.get(URL)
        # Many more records, wins, tier changes and every kind of criterion.
        cert2 = b.engineering(world, code="ce2", name="Cloud Architect")
        b.certify(world, b.people(world, world.partner, 8), two_of_three)
        b.certify(world, b.people(world, world.partner, 4, prefix="arch"), cert2)
        for i in range(6):
            b.win(world, world.partner, "1000", on=TODAY - dt.timedelta(days=10 + i))
            b.at_tier(world, world.partner, tiers["Silver" if i % 2 else "Gold"])
        b.version(
            world,
            {
                tiers["Silver"]: (0, [(Kind.CERTIFIED, "1", True, two_of_three)]),
                tiers["Gold"]: (
                    1,
                    [
                        (Kind.WON_REVENUE, "250000", True, None),
                        (Kind.APPROVED, "3", False, None),
                        (Kind.CERTIFIED, "20", True, two_of_three),
                        (Kind.CERTIFIED, "2", False, cert2),
                        (Kind.AGREEMENTS, "0", False, None),
                        (Kind.PLAN, "0", False, None),
                        (Kind.HEALTH, "60", False, None),
                    ],
                ),
                tiers["Platinum"]: (0, [(Kind.WON_REVENUE, "1000000", True, None)]),
            },
            status="draft",
        )
        from program.models import CriteriaVersion

        CriteriaVersion.objects.filter(status="published").update(status="retired")
        CriteriaVersion.objects.filter(status="draft").update(status="published")
        with django_assert_max_num_queries(QUERIES) as large:
            response = client.get(URL)
        assert len(response.context["p"].next.lines) == 7
        assert len(response.context["p"].history) == 8
        # One query per kind of figure the criteria use (one kind, then all
        # six), whatever the number of records, wins and tier changes.
        assert len(large.captured_queries) - len(small.captured_queries) == 5


# Session, user, membership, the portal gates and navigation; the ladder
# (tiers, version, targets, criteria, certifications), one query per kind
# of figure (six kinds at most), the hold, the standing, the history;
# whether the tenant runs compliance reviews (the menu entry).
QUERIES = 23


def test_build_reads_a_day(world, tiers, two_of_three):
    found = progress.build(world.partner, day=TODAY)
    assert found.day == TODAY and found.next.lines[0].share == 66
    assert found.next.check.results[0].value == Decimal(2)
