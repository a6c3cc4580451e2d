"""Tier progress outside its page: the partner's menu entry and home card
(the tier and the headline from the last evaluation, in two queries), and
the staff home card "Partners about to move" (ops: all partners; channel
managers: their own)."""

import pytest
from django.urls import reverse

from prm.tenancy.roles import Role
from program.evaluation import Trigger, evaluate
from program.models import QualificationSettings, TierStanding
from program.portal_progress import tier_card
from program.staff_cards import moving_counts

from . import builders as b

pytestmark = pytest.mark.django_db
LIST = reverse("tenant_admin:program_tierstanding_changelist")


@pytest.fixture
def two_of_three(world, tiers):
    cert = b.engineering(world)
    b.engineers_ladder(world, tiers, cert, gold=3)
    b.at_tier(world, world.partner, tiers["Silver"])
    b.certify(world, [world[Role.PARTNER_ADMIN], world[Role.PARTNER_USER]], cert)
    return cert


def card(world, role=Role.PARTNER_ADMIN):
    membership = world[role]
    membership.refresh_from_db()
    membership.tenant = world.tenant
    return tier_card(membership)


class TestPartnerCard:
    def test_the_menu_entry_and_card(self, world, tiers, two_of_three):
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        html = world.client(Role.PARTNER_USER).get("/").content.decode()
        assert 'href="/program/tiers/"' in html and "Tier progress" in html
        assert "Your tier: Silver" in html
        assert 'data-testid="tier-headline">1 more certified engineer to Gold<' in html

    def test_headline_from_the_last_evaluation_in_two_queries(
        self, world, tiers, two_of_three, django_assert_num_queries
    ):
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        # As the middleware loads it: with the partner and its tier.
        membership = (
            type(world[Role.PARTNER_ADMIN])
            .objects.select_related("partner", "partner__tier")
            .get(pk=world[Role.PARTNER_ADMIN].pk)
        )
        membership.tenant = world.tenant
        with django_assert_num_queries(2):
            found = tier_card(membership)
        assert found["headline"] == "1 more certified engineer to Gold"
        assert not found["urgent"]

    def test_grace_period_reads_to_keep(self, world, tiers, two_of_three):
        b.at_tier(world, world.partner, tiers["Gold"])
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert TierStanding.objects.get(partner=world.partner).grace_until is not None
        found = card(world)
        assert found["headline"] == "1 more certified engineer to keep Gold"
        assert found["urgent"]

    def test_upgrade_waiting(self, world, tiers, two_of_three):
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.upgrades = policy.Upgrades.AT_REVIEW
        policy.save()
        b.certify(world, b.people(world, world.partner, 1), two_of_three)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        assert card(world)["headline"] == "You qualify for Gold"

    def test_not_evaluated_yet_and_no_criteria(self, world, tiers):
        assert card(world)["headline"] == "Tiers are assigned by the vendor."
        b.engineers_ladder(world, tiers, b.engineering(world))
        assert card(world)["headline"] == "See what each tier asks for and where you stand."

    def test_staff_have_no_menu_entry(self, world):
        html = world.client(Role.OPS_ADMIN).get("/").content.decode()
        assert 'href="/program/tiers/"' not in html


class TestStaffCard:
    @pytest.fixture
    def moving(self, world, tiers, two_of_three):
        """The world's partner (CM: the world's) in a grace period ending in
        20 days; the other partner (no CM) qualifying for Gold while
        upgrades wait for the review."""
        policy = QualificationSettings.for_tenant(world.tenant)
        policy.upgrades = policy.Upgrades.AT_REVIEW
        policy.grace_days = 21
        policy.save()
        b.at_tier(world, world.partner, tiers["Gold"])
        b.at_tier(world, world.other_partner, tiers["Silver"])
        b.certify(world, b.people(world, world.other_partner, 3), two_of_three)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)

    def test_ops_see_every_partner(self, world, moving):
        counts = moving_counts(world[Role.OPS_ADMIN])
        assert [(c.text, c.url, c.urgent) for c in counts] == [
            ("1 grace period ending within 30 days", f"{LIST}?grace=soon", True),
            ("2 partners about to move", LIST, False),
        ]

    def test_channel_managers_see_their_own(self, world, moving):
        counts = moving_counts(world[Role.CHANNEL_MANAGER])
        assert [(c.text, c.url) for c in counts] == [
            ("1 grace period ending within 30 days", f"{LIST}?manager=me&grace=soon"),
            ("1 partner about to move", f"{LIST}?manager=me"),
        ]

    def test_on_the_home_page_of_ops_and_cms_only(self, world, moving):
        for role in (Role.OPS_ADMIN, Role.CHANNEL_MANAGER):
            html = world.client(role).get("/").content.decode()
            assert 'data-testid="card-program.moving"' in html, role
        for role in (Role.FINANCE, Role.EXECUTIVE):
            html = world.client(role).get("/").content.decode()
            assert 'data-testid="card-program.moving"' not in html, role

    def test_nothing_moving(self, world, tiers):
        assert moving_counts(world[Role.OPS_ADMIN]) == []
