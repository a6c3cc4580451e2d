"""Onboarding plans in the admin: templates with their steps (what each kind
must name, due within the target), the plan list (progress, next step,
flags, filters, constant queries), a plan's page where the partner's
channel manager or ops tick steps, starting a plan, the panel on the
partner's page and the staff home card."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from onboarding import plans
from onboarding.models import Owner, Plan, PlanStep, PlanTemplate, StepKind
from onboarding.staff_cards_plans import plan_counts
from partners import services as partner_services
from prm.tenancy.roles import Role
from tests import factories

from . import builders_plans as b

pytestmark = pytest.mark.django_db
PLANS = "/admin/onboarding/plan/"
TEMPLATES = "/admin/onboarding/plantemplate/"
START = "/admin/onboarding/plan/start/"


def plan_url(plan):
    return reverse("tenant_admin:onboarding_plan_change", args=[plan.pk])


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Templates ----------------------------------------------------------------------------


def template_data(*steps, **fields):
    data = {
        "name": "Referral partners",
        "partner_type": "referral",
        "tier": "",
        "target_days": "60",
        "is_active": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, values in enumerate(steps):
        row = {
            "position": str(i),
            "title": f"Step {i}",
            "owner": "partner",
            "due_days": "10",
            "required": "on",
            **values,
        }
        data.update({f"steps-{i}-{k}": v for k, v in row.items()})
    return data


def test_ops_add_a_template_with_its_steps(acme):
    with acme.scope():
        agreement = b.agreement(acme)
    response = acme.client(Role.OPS_ADMIN).post(
        f"{TEMPLATES}add/",
        template_data(
            {"kind": "agreement", "agreement": str(agreement.pk)},
            {"kind": "document", "document_name": "W-9"},
            {"kind": "training", "course_code": "SALES-101"},
            {"kind": "kickoff", "owner": "channel_manager"},
        ),
    )
    assert response.status_code == 302, response.context["errors"]
    with acme.scope():
        template = PlanTemplate.objects.get(name="Referral partners")
        assert [s.kind for s in template.steps.all()] == [
            "agreement",
            "document",
            "training",
            "kickoff",
        ]
    page = acme.client(Role.EXECUTIVE).get(f"{TEMPLATES}{template.pk}/change/")
    assert page.status_code == 200 and "W-9" in page.content.decode()


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        ({"kind": "agreement"}, "agreement", "Choose the agreement"),
        ({"kind": "document", "document_name": "  "}, "document_name", "Name the document"),
        ({"kind": "training"}, "course_code", "Give the code of the course"),
        ({"kind": "custom", "due_days": "61"}, "due_days", "Due after the template's target"),
    ],
)
def test_a_step_names_what_its_kind_needs(acme, step, field, message):
    response = acme.client(Role.OPS_ADMIN).post(f"{TEMPLATES}add/", template_data(step))
    assert response.status_code == 200
    (formset,) = response.context["inline_admin_formsets"]
    assert message in " ".join(formset.formset.forms[0].errors[field])
    with acme.scope():
        assert not PlanTemplate.objects.exists()


def test_one_active_template_per_type_and_tier(acme):
    with acme.scope():
        b.template(acme, [], name="Referral one", partner_type="referral")
    response = acme.client(Role.OPS_ADMIN).post(f"{TEMPLATES}add/", template_data())
    assert response.status_code == 200
    assert "An active template for this partner type and tier exists already." in (
        response.content.decode()
    )


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE])
def test_templates_are_ops_business(acme, role):
    client = acme.client(role)
    assert client.get(TEMPLATES).status_code == 200
    assert client.post(f"{TEMPLATES}add/", template_data()).status_code == 403


# --- The plan list ----------------------------------------------------------------------


@pytest.fixture
def plan(acme):
    with acme.scope():
        return b.start(acme, b.full_template(acme))


def test_the_list_shows_progress_next_step_and_flags(acme, plan):
    with acme.scope():
        plans.tick(plan.steps.get(kind=StepKind.CUSTOM), by=acme[Role.PARTNER_ADMIN])
    later = timezone.now() + dt.timedelta(days=26)
    with time_machine.travel(later, tick=False):
        page = acme.client(Role.EXECUTIVE).get(PLANS).content.decode()
    assert acme.partner.name in page
    assert '<progress value="12" max="100"' in page
    assert "1 of 8 steps" in page
    assert "Complete a course" not in page  # the next step is the first one due
    assert "Accept an agreement" in page
    assert "5 steps overdue" in page
    assert "stalled" in page  # no step completed in 21 days
    assert str(acme[Role.CHANNEL_MANAGER].user) in page


def _plans_for(world, count):
    template = b.template(
        world, [b.step("custom"), b.step("kickoff", owner=Owner.CHANNEL_MANAGER)], name="Q"
    )
    for i in range(count):
        partner = factories.make_partner(
            world.tenant,
            f"Partner {world.tenant.slug} {i} {PlanStep.objects.count()}",
            channel_manager=world[Role.CHANNEL_MANAGER].user,
            website=f"https://p{i}-{PlanStep.objects.count()}.example",
        )
        b.start(world, template, partner=partner)


def test_the_list_runs_a_constant_number_of_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.CHANNEL_MANAGER)
    with acme.scope():
        _plans_for(acme, 2)
    client.get(PLANS)
    with django_assert_max_num_queries(30) as few:
        assert client.get(PLANS).status_code == 200
    with acme.scope():
        PlanTemplate.objects.all().delete()
        _plans_for(acme, 8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(PLANS)
    assert response.context["cl"].result_count == 10


def test_the_filters(acme, plan):
    with acme.scope():
        other = b.start(
            acme,
            b.template(
                acme,
                [b.step("custom", due_days=200)],
                name="Slow",
                target_days=400,
                is_active=False,
            ),
            partner=acme.other_partner,
        )

    def listed(query, role=Role.CHANNEL_MANAGER):
        response = acme.client(role).get(PLANS + query)
        return {p.partner_id for p in response.context["cl"].result_list}

    both = {plan.partner_id, other.partner_id}
    assert listed("") == both
    assert listed("?manager=me") == {plan.partner_id}
    assert listed("?manager=me", Role.OPS_ADMIN) == set()  # ops manage no partner here
    assert listed("?overdue=steps") == set()
    assert listed("?stalled=yes") == set()
    later = timezone.now() + dt.timedelta(days=95)
    with time_machine.travel(later, tick=False):
        assert listed("?overdue=steps") == {plan.partner_id}
        assert listed("?overdue=target") == {plan.partner_id}
        assert listed("?stalled=yes") == both
        assert listed("?stalled=yes&manager=me") == {plan.partner_id}
        assert listed("?status__exact=completed") == set()


# --- A plan's page ------------------------------------------------------------------------


def tick(client, plan, step, note=""):
    return client.post(
        plan_url(plan), {"_action": "tick", "tick-step": str(step.pk), "tick-note": note}
    )


def test_the_channel_manager_ticks_the_kickoff_with_a_note(acme, plan):
    client = acme.client(Role.CHANNEL_MANAGER)
    page = client.get(plan_url(plan))
    assert page.status_code == 200
    tickable = {row["step"].kind for row in page.context["rows"] if row["form"]}
    assert tickable == {StepKind.KICKOFF, StepKind.CUSTOM, StepKind.TRAINING}
    with acme.scope():
        kickoff = plan.steps.get(kind=StepKind.KICKOFF)
    response = tick(client, plan, kickoff, "Great call, 6 people")
    assert response.status_code == 302
    assert messages_of(response) == ["“Attend a kickoff call” ticked as done."]
    with acme.scope():
        kickoff.refresh_from_db()
    assert kickoff.completed_by == acme[Role.CHANNEL_MANAGER].user
    assert kickoff.note == "Great call, 6 people"
    page = client.get(plan_url(plan)).content.decode()
    assert "ticked by" in page and "Great call, 6 people" in page
    again = tick(client, plan, kickoff)
    assert again.status_code == 200
    assert "is already done" in again.content.decode()


def test_an_automatic_step_cannot_be_ticked(acme, plan):
    with acme.scope():
        document = plan.steps.get(kind=StepKind.DOCUMENT)
    response = tick(acme.client(Role.OPS_ADMIN), plan, document)
    assert response.status_code == 200
    assert "You may not tick this step" in response.content.decode()
    with acme.scope():
        document.refresh_from_db()
    assert document.completed_at is None


def test_only_the_partners_channel_manager_and_ops_tick(acme, plan):
    with acme.scope():
        other_plan = b.start(
            acme,
            b.template(acme, [b.step("kickoff")], name="Other", is_active=False),
            partner=acme.other_partner,
        )
        kickoff = other_plan.steps.get()
    manager = acme.client(Role.CHANNEL_MANAGER)
    page = manager.get(plan_url(other_plan))
    assert page.status_code == 200 and not page.context["may_tick"]
    assert tick(manager, other_plan, kickoff).status_code == 403
    assert tick(acme.client(Role.FINANCE), other_plan, kickoff).status_code == 403
    assert tick(acme.client(Role.OPS_ADMIN), other_plan, kickoff).status_code == 302
    with acme.scope():
        other_plan.refresh_from_db()
    assert other_plan.status == Plan.Status.COMPLETED


def test_a_step_of_another_plan_is_404(acme, globex, plan):
    with acme.scope():
        other_plan = b.start(
            acme,
            b.template(acme, [b.step("kickoff")], name="Other", is_active=False),
            partner=acme.other_partner,
        )
        kickoff = other_plan.steps.get()
    assert tick(acme.client(Role.OPS_ADMIN), plan, kickoff).status_code == 404
    assert globex.client(Role.OPS_ADMIN).get(plan_url(plan)).status_code == 404


def test_plans_are_not_added_changed_or_deleted_by_hand(acme, plan):
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(f"{PLANS}add/").status_code == 403
    assert (
        client.get(reverse("tenant_admin:onboarding_plan_delete", args=[plan.pk])).status_code
        == 403
    )
    page = client.get(plan_url(plan)).content.decode()
    assert 'name="_save"' not in page


# --- Starting a plan --------------------------------------------------------------------


def test_ops_start_a_plan_from_the_applicable_template(acme):
    with acme.scope():
        b.template(acme, [b.step("custom")], name="Resellers")
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(f"{START}?partner={acme.partner.pk}")
    assert page.status_code == 200
    assert page.context["form"]["partner"].value() == str(acme.partner.pk)
    response = client.post(START, {"partner": str(acme.partner.pk), "template": ""})
    assert response.status_code == 302
    with acme.scope():
        started = Plan.objects.get(partner=acme.partner)
    assert response["Location"] == plan_url(started)
    assert started.template.name == "Resellers" and started.started_by == acme[Role.OPS_ADMIN].user
    # The partner now has a plan: it is no longer offered.
    again = client.post(START, {"partner": str(acme.partner.pk)})
    assert again.status_code == 400
    assert "Select a valid choice" in str(again.context["form"].errors["partner"])


def test_starting_without_a_template_or_with_a_wrong_one_is_refused(acme):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(START, {"partner": str(acme.partner.pk)})
    assert response.status_code == 400
    assert "No active template applies" in str(response.context["form"].errors["template"])
    with acme.scope():
        distributors = b.template(acme, [], name="Distributors", partner_type="distributor")
    response = client.post(
        START, {"partner": str(acme.partner.pk), "template": str(distributors.pk)}
    )
    assert response.status_code == 400
    assert "is a template for Distributor partners" in str(
        response.context["form"].errors["template"]
    )
    with acme.scope():
        assert not Plan.objects.exists()


@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.EXECUTIVE])
def test_only_ops_start_plans(acme, role):
    assert acme.client(role).get(START).status_code == 403
    assert acme.client(role).post(START, {"partner": str(acme.partner.pk)}).status_code == 403


# --- The partner's page and the home card -----------------------------------------------


def partner_page(world, role, partner):
    url = reverse("tenant_admin:partners_partner_change", args=[partner.pk])
    return world.client(role).get(url).content.decode()


def test_the_partner_panel_shows_the_plan(acme, plan):
    page = partner_page(acme, Role.EXECUTIVE, acme.partner)
    assert 'data-testid="onboarding-panel"' in page
    assert 'data-testid="panel-percent">0 %' in page
    assert plan_url(plan) in page


def test_the_panel_offers_ops_to_start_a_plan(acme):
    with acme.scope():
        b.template(acme, [b.step("custom")], name="Resellers")
    page = partner_page(acme, Role.OPS_ADMIN, acme.partner)
    assert 'data-testid="no-plan"' in page
    assert f"{START}?partner={acme.partner.pk}" in page
    assert "<strong>Resellers</strong>" in page
    page = partner_page(acme, Role.CHANNEL_MANAGER, acme.partner)
    assert 'data-testid="no-plan"' in page and 'data-testid="start-plan"' not in page


def test_the_staff_card_counts_my_partners_and_everyones(acme, plan, django_assert_num_queries):
    with acme.scope():
        b.start(
            acme,
            b.template(acme, [b.step("kickoff")], name="Other", is_active=False),
            partner=acme.other_partner,
        )
    later = timezone.now() + dt.timedelta(days=95)
    with time_machine.travel(later, tick=False), acme.scope():
        with django_assert_num_queries(2):
            mine = plan_counts(acme[Role.CHANNEL_MANAGER])
        everyone = plan_counts(acme[Role.OPS_ADMIN])
    assert [c.text for c in mine] == [
        "1 plan of your partners with an overdue step",
        "1 plan of your partners past the target date",
        "1 plan stalled: no step done in 21 days",
        "1 plan of your partners in progress",
    ]
    assert all("manager=me" in c.url for c in mine)
    assert mine[0].url == f"{PLANS}?overdue=steps&manager=me" and mine[0].urgent
    assert everyone[0].text == "2 plans with an overdue step"
    assert "manager=me" not in everyone[0].url
    home = acme.client(Role.CHANNEL_MANAGER).get("/").content.decode()
    assert "Onboarding plans" in home and "1 plan of your partners in progress" in home
    assert "Onboarding plans" not in acme.client(Role.FINANCE).get("/").content.decode()


def test_a_partner_leaving_its_manager_leaves_the_managers_card(acme, plan):
    with acme.scope():
        partner_services.update_partner(acme.partner, by=None, data={"channel_manager": None})
        assert plan_counts(acme[Role.CHANNEL_MANAGER]) == []
