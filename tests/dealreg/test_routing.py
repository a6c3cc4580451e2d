"""Who decides a new registration: ordered routing rules (country/region,
tier, partner type, product line, value range) naming an approver or a
round-robin pool; else the partner's channel manager; else the least busy
channel manager; else nobody, and ops are told."""

from decimal import Decimal

import pytest

from dealreg import services
from dealreg.models import DealRegistration, RegistrationEvent, RoutingRule
from partners.models import Partner, Region, Tier
from prm.tenancy.models import Membership, Notification
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(acme):
    """Three more channel managers, in email order."""
    with acme.scope():
        return [
            factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email=f"{name}@acme.test")
            for name in ("anna", "ben", "cleo")
        ]


@pytest.fixture
def rule(acme):
    def _rule(name="Rule", priority=100, approver=None, pool=(), **conditions):
        many = {
            k: conditions.pop(k) for k in ("regions", "tiers", "product_lines") if k in conditions
        }
        with acme.scope():
            made = RoutingRule.objects.create(
                tenant=acme.tenant,
                name=name,
                priority=priority,
                approver=approver.user if approver else None,
                **conditions,
            )
            made.pool.set([m.user for m in pool])
            for field_name, values in many.items():
                getattr(made, field_name).set(values)
        return made

    return _rule


def test_without_rules_the_partners_channel_manager_decides(acme, submit_as):
    registration = submit_as(acme)
    assert registration.approver == acme[Role.CHANNEL_MANAGER].user
    with acme.scope():
        event = RegistrationEvent.objects.get(registration=registration, kind="assigned")
        assert event.data == {"approver": acme[Role.CHANNEL_MANAGER].user.email, "rule": None}


def test_country_rule(acme, submit_as, rule, managers):
    rule("Germany", approver=managers[0], countries=["DE"])
    assert submit_as(acme).approver == acme[Role.CHANNEL_MANAGER].user
    german = submit_as(acme, customer_country="DE", customer_name="Siemens")
    assert german.approver == managers[0].user
    with acme.scope():
        event = RegistrationEvent.objects.get(registration=german, kind="assigned")
        assert event.data["rule"] == "Germany"


def test_region_rule_matches_the_chosen_region_or_the_customers_country(
    acme, submit_as, rule, managers
):
    with acme.scope():
        north_america = Region.objects.get(code="na")  # US and CA
        emea = factories.make_region(acme.tenant, "emea", countries=("DE", "FR"))
    rule("EMEA", approver=managers[1], regions=[emea])
    assert submit_as(acme, customer_country="FR").approver == managers[1].user
    chosen = submit_as(acme, customer_region=emea, customer_name="Chosen Region Ltd")
    assert chosen.approver == managers[1].user
    us = submit_as(acme, customer_region=north_america, customer_name="Local Inc")
    assert us.approver == acme[Role.CHANNEL_MANAGER].user


def test_tier_and_partner_type_rules(acme, submit_as, rule, managers):
    with acme.scope():
        silver = Tier.objects.get(name="Silver")
        gold = Tier.objects.get(name="Gold")
    rule("Silver", priority=1, approver=managers[0], tiers=[silver])
    rule("MSPs", priority=2, approver=managers[1], partner_types=[Partner.Type.MSP])
    rule("Gold", priority=3, approver=managers[2], tiers=[gold])
    assert submit_as(acme).approver == managers[2].user  # a Gold reseller
    with acme.scope():
        Partner.objects.filter(pk=acme.partner.pk).update(partner_type=Partner.Type.MSP)
        acme[Role.PARTNER_USER].partner.refresh_from_db()
    assert submit_as(acme, customer_name="Next One").approver == managers[1].user
    with acme.scope():
        Partner.objects.filter(pk=acme.partner.pk).update(tier=silver)
        acme[Role.PARTNER_USER].partner.refresh_from_db()
    assert submit_as(acme, customer_name="Third One").approver == managers[0].user


def test_product_line_rule_needs_one_shared_line(acme, products, submit_as, rule, managers):
    rule("SD-WAN", approver=managers[0], product_lines=[products["acme"]["sdwan"]])
    assert submit_as(acme).approver == acme[Role.CHANNEL_MANAGER].user
    both = [products["acme"]["fw"], products["acme"]["sdwan"]]
    registration = submit_as(acme, product_lines=both, customer_name="Both Lines")
    assert registration.approver == managers[0].user


@pytest.mark.parametrize(
    ("value", "routed"),
    [("49999.99", False), ("50000.00", True), ("100000.00", True), ("100000.01", False)],
)
def test_value_range_rule_is_inclusive(acme, submit_as, rule, managers, value, routed):
    rule(
        "Mid-size",
        approver=managers[0],
        min_value=Decimal("50000"),
        max_value=Decimal("100000"),
    )
    registration = submit_as(acme, estimated_value=Decimal(value))
    expected = managers[0] if routed else acme[Role.CHANNEL_MANAGER]
    assert registration.approver == expected.user


def test_every_condition_of_a_rule_must_match(acme, products, submit_as, rule, managers):
    rule(
        "US firewall deals over 20k",
        approver=managers[0],
        countries=["US"],
        product_lines=[products["acme"]["fw"]],
        min_value=Decimal("20000"),
    )
    assert submit_as(acme).approver == managers[0].user
    assert (
        submit_as(acme, customer_country="CA", customer_name="Canuck Ltd").approver
        == acme[Role.CHANNEL_MANAGER].user
    )
    assert (
        submit_as(acme, estimated_value=Decimal("5000"), customer_name="Small Co").approver
        == acme[Role.CHANNEL_MANAGER].user
    )


def test_rules_run_in_priority_order_and_inactive_ones_are_skipped(acme, submit_as, rule, managers):
    rule("Catch-all", priority=50, approver=managers[2])
    rule("First", priority=10, approver=managers[0], countries=["US"])
    rule("Inactive", priority=1, approver=managers[1], is_active=False)
    assert submit_as(acme).approver == managers[0].user
    assert submit_as(acme, customer_country="FR", customer_name="Fr").approver == managers[2].user


def test_pool_is_round_robin_and_skips_inactive_members(acme, submit_as, rule, managers):
    pool_rule = rule("Pool", pool=managers)
    got = [submit_as(acme, customer_name=f"Customer {n}").approver for n in range(4)]
    assert got == [managers[0].user, managers[1].user, managers[2].user, managers[0].user]
    with acme.scope():
        Membership.objects.filter(pk=managers[1].pk).update(is_active=False)
        pool_rule.refresh_from_db()
        assert pool_rule.last_assigned == managers[0].user
    got = [submit_as(acme, customer_name=f"Later {n}").approver for n in range(2)]
    assert got == [managers[2].user, managers[0].user]


def test_an_inactive_approver_falls_back_to_the_pool_then_to_the_next_rule(
    acme, submit_as, rule, managers
):
    rule("Named", priority=1, approver=managers[0], pool=[managers[1]])
    rule("Next", priority=2, approver=managers[2])
    with acme.scope():
        Membership.objects.filter(pk=managers[0].pk).update(is_active=False)
    assert submit_as(acme).approver == managers[1].user
    with acme.scope():
        Membership.objects.filter(pk=managers[1].pk).update(is_active=False)
    assert submit_as(acme, customer_name="Other").approver == managers[2].user


def test_an_ops_admin_may_be_a_rules_approver_but_not_a_partner_user(acme, submit_as, rule):
    rule("Strategic", priority=1, approver=acme[Role.PARTNER_ADMIN])
    rule("Ops", priority=2, approver=acme[Role.OPS_ADMIN])
    assert submit_as(acme).approver == acme[Role.OPS_ADMIN].user


def test_fallback_is_the_least_busy_channel_manager(acme, submit_as, managers):
    """The other partner has no channel manager: its registrations go to the
    channel manager with the fewest pending ones (ties: by email)."""
    with acme.scope():
        member = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="two@acme.test"
        )
        # Pending: anna one (and one decided), ben two, the partner's manager two.
        for n, who in enumerate([managers[0], managers[0], managers[1], managers[1]]):
            registration = submit_as(acme, customer_name=f"Busy {n}")
            services.reassign(registration, by=acme[Role.OPS_ADMIN], approver=who.user)
            if n == 0:
                services.approve(registration, by=acme[Role.OPS_ADMIN])
        submit_as(acme, customer_name="Busy 5")
        submit_as(acme, customer_name="Busy 6")
        Membership.objects.filter(pk=managers[2].pk).update(is_active=False)  # cleo: idle
    first = submit_as(acme, member=member, customer_name="Unassigned partner")
    assert first.approver == managers[0].user  # one pending
    second = submit_as(acme, member=member, customer_name="Second")
    # anna, ben and the partner's manager have two each: a tie goes by email.
    assert second.approver == managers[0].user
    third = submit_as(acme, member=member, customer_name="Third")
    assert third.approver == managers[1].user


def test_an_inactive_partner_manager_falls_back_to_the_least_busy(acme, submit_as, managers):
    with acme.scope():
        Membership.objects.filter(user=acme.partner.channel_manager).update(is_active=False)
    assert submit_as(acme).approver == managers[0].user


def test_nobody_to_route_to_tells_the_ops_admins(acme, submit_as):
    with acme.scope():
        Membership.objects.filter(role=Role.CHANNEL_MANAGER).update(is_active=False)
    registration = submit_as(acme)
    assert registration.approver is None
    with acme.scope():
        assert {n.user for n in Notification.objects.filter(kind="dealreg.assigned")} == {
            acme[Role.OPS_ADMIN].user
        }
        assert DealRegistration.objects.get(pk=registration.pk).approver is None


def test_routing_uses_only_the_tenants_own_rules_and_people(acme, globex, submit_as):
    with globex.scope():
        RoutingRule.objects.create(
            tenant=globex.tenant, name="Globex all", approver=globex[Role.OPS_ADMIN].user
        )
    assert submit_as(acme).approver == acme[Role.CHANNEL_MANAGER].user
    assert submit_as(globex).approver == globex[Role.OPS_ADMIN].user
