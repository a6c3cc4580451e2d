"""The partner portal's onboarding pages: the plan (progress, target, each
step with what to do), ticking a custom step, the company profile, the
home card and the menu entry; who may do what, another partner's and
another tenant's steps (404), and the queries a page runs."""

import datetime as dt

import pytest
import time_machine
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from onboarding import plans, portal
from onboarding.models import Owner, Plan, PlanStep, StepKind
from onboarding.portal import CARDS, NAV
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from tests import factories

from . import builders_plans as b

pytestmark = pytest.mark.django_db
PLAN_URL = "/onboarding/"


@pytest.fixture
def plan(acme):
    with acme.scope():
        return b.start(acme, b.full_template(acme))


def step(plan, kind) -> PlanStep:
    return PlanStep.objects.get(plan=plan, kind=kind)


def tick_url(s):
    return reverse("onboarding:step_tick", args=[s.pk])


def other_admin(world):
    """A partner admin of the world's other partner."""
    with world.scope():
        member = factories.make_member(
            world.tenant, Role.PARTNER_ADMIN, partner=world.other_partner
        )
    world.members["other_admin"] = member
    return member


# --- The plan page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partner_members_see_their_plan(acme, plan, role):
    response = acme.client(role).get(PLAN_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="plan-percent">0 %' in page
    assert "8 required steps" in page
    assert "Upload your W-9" in page and "Sales basics" in page
    rows = response.context["rows"]
    with acme.scope():
        assert [r.step.kind for r in rows] == [s.kind for s in plan.steps.order_by("position")]
        target = plan.target_on
    assert f"{target.day} " in page  # the target date is shown
    assert 'data-testid="step-overdue"' not in page


def test_the_page_shows_progress_overdue_steps_and_a_late_target(acme, plan):
    with acme.scope():
        plans.tick(step(plan, StepKind.CUSTOM), by=acme[Role.PARTNER_ADMIN], note="All in")
    client = acme.client(Role.PARTNER_USER)
    response = client.get(PLAN_URL)
    assert response.context["progress"].percent == 12  # 1 of 8
    page = response.content.decode()
    assert "Ticked by" in page and "All in" in page
    assert 'data-testid="step-done"' in page

    later = timezone.now() + dt.timedelta(days=100)
    with time_machine.travel(later, tick=False):
        response = acme.client(Role.PARTNER_USER).get(PLAN_URL)
    page = response.content.decode()
    assert response.context["progress"].late
    assert page.count('data-testid="step-overdue"') == 7  # every open step
    assert 'data-testid="overdue-count">7 steps' in page
    assert '<span class="chip chip-bad">' in page and "days late" in page
    assert 'data-testid="plan-status">Late' in page


def test_a_partner_without_a_plan_sees_an_empty_state(acme):
    response = acme.client(Role.PARTNER_USER).get(PLAN_URL)
    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.content.decode()
    assert "No onboarding plan" in response.content.decode()


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.EXECUTIVE])
def test_staff_use_the_admin_not_the_portal_page(acme, plan, role):
    assert acme.client(role).get(PLAN_URL).status_code == 403


def test_another_partners_plan_is_not_shown(acme, plan):
    other_admin(acme)
    response = acme.client("other_admin").get(PLAN_URL)
    assert response.status_code == 200
    assert response.context["plan"] is None


def test_what_to_do_links_and_hints(acme, plan):
    admin = acme.client(Role.PARTNER_ADMIN).get(PLAN_URL)
    rows = {r.step.kind: r for r in admin.context["rows"]}
    assert (reverse("dealreg:new"), "Register a deal") in rows[StepKind.FIRST_REGISTRATION].links
    assert (reverse("dealreg:list"), "See your registrations") in rows[
        StepKind.FIRST_APPROVAL
    ].links
    assert (reverse("onboarding:profile"), "Complete the profile") in rows[StepKind.PROFILE].links
    assert rows[StepKind.PROFILE].gaps == ["legal name", "phone", "address"]
    assert "SALES-101" in rows[StepKind.TRAINING].hint
    assert "channel manager ticks" in rows[StepKind.KICKOFF].hint
    try:
        agreements = reverse("onboarding:agreements")
    except NoReverseMatch:  # the agreements pages are another area's
        assert rows[StepKind.AGREEMENT].links == []
    else:
        assert (agreements, "Read and accept") in rows[StepKind.AGREEMENT].links
    # The admin ticks the custom step and uploads the document; a user does neither.
    assert rows[StepKind.CUSTOM].tick_form is not None
    assert rows[StepKind.DOCUMENT].upload_form is not None
    assert rows[StepKind.KICKOFF].tick_form is None
    user = acme.client(Role.PARTNER_USER).get(PLAN_URL)
    rows = {r.step.kind: r for r in user.context["rows"]}
    assert all(r.tick_form is None and r.upload_form is None for r in rows.values())
    assert "A partner admin of yours" in rows[StepKind.DOCUMENT].hint
    assert b'action="/onboarding/steps/' not in user.content


def test_text_typed_by_ops_is_escaped(acme):
    with acme.scope():
        b.start(
            acme,
            b.template(
                acme, [b.step("custom", "<script>alert(1)</script>", instructions="<b>bold</b>")]
            ),
        )
    page = acme.client(Role.PARTNER_USER).get(PLAN_URL).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>bold</b>" not in page


def test_the_page_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    with acme.scope():
        b.start(acme, b.full_template(acme))
    client = acme.client(Role.PARTNER_ADMIN)
    client.get(PLAN_URL)  # warm the session
    with django_assert_max_num_queries(14) as small:
        client.get(PLAN_URL)
    with acme.scope():
        plan = Plan.objects.get(partner=acme.partner)
        for i in range(12):
            PlanStep.objects.create(
                tenant=acme.tenant,
                plan=plan,
                position=20 + i,
                title=f"Extra {i}",
                kind=StepKind.CUSTOM if i % 2 else StepKind.DOCUMENT,
                due_on=plan.target_on,
            )
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(PLAN_URL)
    assert len(response.context["rows"]) == 20


# --- Ticking a step ---------------------------------------------------------------------


def test_the_partner_admin_ticks_a_custom_step_once(acme, plan):
    with acme.scope():
        custom = step(plan, StepKind.CUSTOM)
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post(tick_url(custom), {f"tick-{custom.pk}-note": "Team invited"})
    assert response.status_code == 302
    assert response["Location"] == f"/onboarding/#step-{custom.pk}"
    with acme.scope():
        custom.refresh_from_db()
    assert custom.completed_by == acme[Role.PARTNER_ADMIN].user
    assert (custom.source, custom.note) == (PlanStep.Source.MANUAL, "Team invited")
    first = custom.completed_at
    again = client.post(tick_url(custom), {}, follow=True)
    assert "already done" in again.content.decode()
    with acme.scope():
        custom.refresh_from_db()
    assert custom.completed_at == first


def test_a_step_the_partner_does_not_tick_is_refused(acme, plan):
    with acme.scope():
        kickoff = step(plan, StepKind.KICKOFF)
        documents = step(plan, StepKind.DOCUMENT)
    client = acme.client(Role.PARTNER_ADMIN)
    for s in (kickoff, documents):
        response = client.post(tick_url(s), {}, follow=True)
        assert "You may not tick this step" in response.content.decode()
    with acme.scope():
        assert not PlanStep.objects.filter(completed_at__isnull=False).exists()


def test_a_too_long_note_changes_nothing(acme, plan):
    with acme.scope():
        custom = step(plan, StepKind.CUSTOM)
    response = acme.client(Role.PARTNER_ADMIN).post(
        tick_url(custom), {f"tick-{custom.pk}-note": "x" * 301}
    )
    assert response.status_code == 400
    assert "at most 300 characters" in response.content.decode()
    with acme.scope():
        custom.refresh_from_db()
    assert custom.completed_at is None


def test_who_may_tick(acme, globex, plan):
    with acme.scope():
        custom = step(plan, StepKind.CUSTOM)
    url = tick_url(custom)
    assert acme.client(Role.PARTNER_USER).post(url).status_code == 403
    assert acme.client(Role.OPS_ADMIN).post(url).status_code == 403
    other_admin(acme)
    assert acme.client("other_admin").post(url).status_code == 404
    assert globex.client(Role.PARTNER_ADMIN).post(url).status_code == 404
    assert acme.client(Role.PARTNER_ADMIN).get(url).status_code == 405
    with acme.scope():
        custom.refresh_from_db()
    assert custom.completed_at is None


def test_the_last_tick_completes_the_plan(acme):
    with acme.scope():
        plan = b.start(acme, b.template(acme, [b.step("custom", owner=Owner.PARTNER)]))
        custom = plan.steps.get()
    acme.client(Role.PARTNER_ADMIN).post(tick_url(custom))
    response = acme.client(Role.PARTNER_USER).get(PLAN_URL)
    page = response.content.decode()
    assert 'data-testid="plan-percent">100 %' in page
    assert "within the target" in page
    with acme.scope():
        plan.refresh_from_db()
    assert plan.status == Plan.Status.COMPLETED


# --- The company profile --------------------------------------------------------------


def test_the_partner_admin_completes_the_profile_and_the_step(acme, plan):
    client = acme.client(Role.PARTNER_ADMIN)
    page = client.get("/onboarding/profile/")
    assert page.status_code == 200
    assert 'data-testid="profile-gaps"' in page.content.decode()
    response = client.post(
        "/onboarding/profile/",
        {
            "legal_name": "Acme Reseller One LLC",
            "website": "one.acme-partners.test",
            "phone": "+1 555 0100",
            "address": "1 Main Street",
        },
    )
    assert response.status_code == 302
    with acme.scope():
        acme.partner.refresh_from_db()
        profile_step = step(plan, StepKind.PROFILE)
    assert acme.partner.legal_name == "Acme Reseller One LLC"
    assert acme.partner.website == "https://one.acme-partners.test"
    assert profile_step.completed_at is not None
    assert profile_step.evidence == "company profile complete"
    assert 'data-testid="profile-complete"' in client.get("/onboarding/profile/").content.decode()


def test_profile_errors_show_on_their_field_and_change_nothing(acme, plan):
    with acme.scope():
        other_site = acme.other_partner.website
    client = acme.client(Role.PARTNER_ADMIN)
    response = client.post("/onboarding/profile/", {"website": "not a url at all"})
    assert response.status_code == 400
    assert response.context["form"].errors["website"]
    response = client.post("/onboarding/profile/", {"website": other_site, "phone": "1"})
    assert response.status_code == 400
    assert acme.other_partner.name in str(response.context["form"].errors["website"])
    with acme.scope():
        acme.partner.refresh_from_db()
    assert acme.partner.phone == ""


def test_a_partner_user_reads_the_profile_and_may_not_change_it(acme, plan):
    client = acme.client(Role.PARTNER_USER)
    page = client.get("/onboarding/profile/")
    assert page.status_code == 200 and page.context["form"] is None
    assert "A partner admin of yours edits the profile" in page.content.decode()
    assert client.post("/onboarding/profile/", {"phone": "1"}).status_code == 403
    assert acme.client(Role.OPS_ADMIN).get("/onboarding/profile/").status_code == 403


def test_a_missing_contact_is_for_the_channel_manager(acme, plan):
    with acme.scope():
        acme.partner.contacts.all().delete()
    page = acme.client(Role.PARTNER_ADMIN).get("/onboarding/profile/").content.decode()
    assert "ask them to add yours" in page


# --- Home card and menu -------------------------------------------------------------------


def test_the_home_card_shows_progress_next_step_and_overdue(acme, plan, django_assert_num_queries):
    with acme.scope():
        plans.tick(step(plan, StepKind.CUSTOM), by=acme[Role.PARTNER_ADMIN])
    response = acme.client(Role.PARTNER_USER).get("/")
    page = response.content.decode()
    assert 'data-testid="card-onboarding.plan"' in page
    assert 'data-testid="onboarding-percent">12 %' in page
    assert "Next: Accept an agreement" in page
    assert 'href="/onboarding/"' in page  # the menu entry
    later = timezone.now() + dt.timedelta(days=26)
    with time_machine.travel(later, tick=False):
        page = acme.client(Role.PARTNER_USER).get("/").content.decode()
    assert "5 steps overdue" in page  # due on days 5 to 25

    # Two queries: whether the plan runs (asked once per request, menu and
    # card alike) and its steps.
    with acme.scope():
        membership = Membership.objects.select_related("tenant").get(pk=acme[Role.PARTNER_USER].pk)
        with django_assert_num_queries(2):
            (card,) = [c for c in CARDS if c.key == "onboarding.plan"]
            assert card.visible(membership) and card.visible(membership)
            context = card.context(membership)
            assert [e for e in NAV if e.visible(membership)]
    assert (context["overdue"], context["percent"], context["required"]) == (0, 12, 8)


def test_card_and_menu_only_while_the_plan_runs(acme, plan):
    with acme.scope():
        Plan.objects.filter(pk=plan.pk).update(
            status=Plan.Status.COMPLETED, completed_at=timezone.now()
        )
    page = acme.client(Role.PARTNER_ADMIN).get("/").content.decode()
    assert "card-onboarding.plan" not in page
    assert 'href="/onboarding/"' not in page
    other_admin(acme)
    with acme.scope():
        assert not portal.plan_active(acme["other_admin"])
        assert not portal.plan_active(acme[Role.OPS_ADMIN])
