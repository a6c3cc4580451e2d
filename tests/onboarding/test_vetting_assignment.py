"""Who gets an approved applicant: the first active assignment rule that
matches (region, country, type; priority order) and names an active
channel manager, else the least busy channel manager (fewest partners,
ties by email), else nobody."""

import pytest

from onboarding import assignment
from partners.models import Region
from prm.tenancy.roles import Role
from tests import factories

from . import builders_vetting as b

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(acme):
    """acme's channel manager (who manages acme's first partner) and two more."""
    with acme.scope():
        return {
            "first": acme[Role.CHANNEL_MANAGER].user,
            "zed": factories.make_member(
                acme.tenant, Role.CHANNEL_MANAGER, email="zed@acme.test"
            ).user,
            "amy": factories.make_member(
                acme.tenant, Role.CHANNEL_MANAGER, email="amy@acme.test"
            ).user,
        }


def test_rules_match_on_every_condition_they_give(acme, managers):
    with acme.scope():
        emea = Region.objects.create(
            tenant=acme.tenant, code="emea", name="EMEA", countries=["DE", "FR"]
        )
        b.rule(acme, managers["zed"], priority=10, regions=[emea], partner_types=["msp"])
        b.rule(acme, managers["amy"], priority=20, countries=["FR"])
        german_msp = b.application(acme, country="DE", partner_type="msp")
        german_reseller = b.application(acme, country="DE", partner_type="reseller")
        french_msp = b.application(acme, country="FR", partner_type="msp")
        french_si = b.application(acme, country="FR", partner_type="si")
        assert assignment.choose_manager(german_msp) == managers["zed"]
        assert assignment.choose_manager(french_msp) == managers["zed"]  # priority 10 first
        assert assignment.choose_manager(french_si) == managers["amy"]
        # No rule matches a German reseller: the least busy (amy and zed have
        # no partner; amy comes first by email).
        assert assignment.choose_manager(german_reseller) == managers["amy"]
        assert assignment.choose_reviewer(german_reseller) == (None, None)
        reviewer, rule = assignment.choose_reviewer(french_si)
        assert reviewer == managers["amy"] and rule.countries == ["FR"]


def test_inactive_rules_and_rules_naming_someone_gone_are_passed_over(acme, managers):
    with acme.scope():
        b.rule(acme, managers["zed"], priority=1, is_active=False)
        gone = b.rule(acme, managers["amy"], priority=2)
        b.rule(acme, managers["first"], priority=3)
        app = b.application(acme)
        assert assignment.choose_manager(app) == managers["amy"]
        membership = gone.manager.memberships.get(tenant=acme.tenant)
        membership.is_active = False
        membership.save()
        assert assignment.choose_manager(app) == managers["first"]
        # Someone who is no longer a channel manager (now ops) is passed over too.
        b.rule(acme, acme[Role.OPS_ADMIN].user, priority=0)
        assert assignment.choose_manager(app) == managers["first"]


def test_the_least_busy_manages_fewest_partners_ties_by_email(acme, managers):
    with acme.scope():
        app = b.application(acme)
        # first manages one partner; amy and zed none: amy by email.
        assert assignment.least_busy_manager() == managers["amy"]
        factories.make_partner(acme.tenant, "Amy's One", channel_manager=managers["amy"])
        assert assignment.choose_manager(app) == managers["zed"]
        factories.make_partner(acme.tenant, "Zed's One", channel_manager=managers["zed"])
        # All three manage one partner now: the first by email wins.
        assert assignment.choose_manager(app) == managers["amy"]
        factories.make_partner(acme.tenant, "Amy's Two", channel_manager=managers["amy"])
        assert assignment.choose_manager(app) == managers["first"]  # channel.manager@…


def test_no_channel_manager_means_nobody(acme):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        cm.is_active = False
        cm.save()
        assert assignment.least_busy_manager() is None
        assert assignment.choose_manager(b.application(acme)) is None


def test_the_other_tenants_managers_never_count(acme, globex):
    with globex.scope():
        factories.make_member(globex.tenant, Role.CHANNEL_MANAGER, email="aaa@globex.test")
    with acme.scope():
        assert assignment.least_busy_manager() == acme[Role.CHANNEL_MANAGER].user
