"""Home pages: the declared cards each role sees, in a constant number of
queries however much data the tenant holds."""

import pytest

from prm.tenancy.roles import ALL_ROLES, Role

# Session, user, membership, the notifications badge, and one query per card
# with counts (measured; a card that queries per row breaks these). Partner
# users: also whether their program lets them read the statements. Staff:
# the partners at risk (one query); the program's quarter for those who read
# the dashboard (its settings, the rollups' daily sums and all-day totals:
# three). MDF: fund requests and claims one each; the budgets card one, and
# one more once a budget is open; the partners' funds card two. Onboarding:
# the applications card one (channel managers, ops), the agreements card one
# (ops), the plans card two and the training records card one (channel
# managers, ops); partners, the
# agreements gate one and whether their plan runs one (the menu entry and
# the card share it), the training card one. Program: partners, the tier
# card two (the standing, the published criteria); ops and channel
# managers, the partners about to move two (the policy's notice days, the
# counts); everyone but finance and executives, whether the tenant runs
# compliance reviews one (the menu entry and the cards share it).
MAX_QUERIES = {
    Role.OPS_ADMIN: 26,
    Role.CHANNEL_MANAGER: 17,
    Role.FINANCE: 18,
    Role.EXECUTIVE: 13,
    Role.PARTNER_ADMIN: 17,
    Role.PARTNER_USER: 16,
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_home_page_queries_are_bounded(acme, role, django_assert_max_num_queries):
    client = acme.client(role)
    client.get("/")  # the session's first request sets things up
    with django_assert_max_num_queries(MAX_QUERIES[role]):
        response = client.get("/")
    assert response.status_code == 200
    assert response.context["cards"], role


@pytest.mark.django_db
def test_staff_and_partners_get_their_own_home(acme):
    staff = acme.client(Role.FINANCE).get("/")
    assert staff.templates[0].name == "tenancy/staff_home.html"
    keys = [c["card"].key for c in staff.context["cards"]]
    assert "incentives.payouts" in keys and "partners.organisation" not in keys
    partner = acme.client(Role.PARTNER_ADMIN).get("/")
    keys = [c["card"].key for c in partner.context["cards"]]
    assert keys[:3] == ["partners.organisation", "partners.manager", "dealreg.partner_deals"]
    assert "tenancy.team" in keys and "incentives.statements" in keys


@pytest.mark.django_db
def test_set_up_areas_are_listed_after_the_work_cards(acme):
    response = acme.client(Role.OPS_ADMIN).get("/")
    work = [c["card"].key for c in response.context["cards"]]
    setup = [c["card"].key for c in response.context["setup_cards"]]
    assert "dealreg.queue" in work and "dealreg.routing" not in work
    assert {"partners.tiers", "dealreg.routing", "incentives.plans", "tenancy.settings"} <= set(
        setup
    )
    page = response.content.decode()
    assert page.index('data-testid="card-dealreg.queue"') < page.index('data-testid="setup-links"')
    assert '<a href="/admin/partners/tier/">Tiers</a>' in page
    # Roles that configure nothing get no set-up list.
    response = acme.client(Role.CHANNEL_MANAGER).get("/")
    assert response.context["setup_cards"] == []
    assert 'data-testid="setup-links"' not in response.content.decode()
