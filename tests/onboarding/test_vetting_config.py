"""Ops configure onboarding in the tenant admin: the settings (one row per
tenant), the application form's questions, the vetting checklist and the
assignment rules (managers limited to the tenant's active channel
managers, regions to its own). Other staff look; partner people have no
admin; nobody reaches another tenant's configuration."""

import pytest
from django.urls import reverse

from onboarding.models import AssignmentRule, OnboardingSettings, Question, VettingCheck
from partners.models import Region, Tier
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from tests import factories

from . import builders_vetting as b

pytestmark = pytest.mark.django_db


def url(model: str, view: str, *args) -> str:
    return reverse(f"tenant_admin:onboarding_{model}_{view}", args=args)


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def _question(world):
    return {
        "label": "Annual revenue",
        "key": "revenue",
        "field_type": "choice",
        "choices": "Under 1M\n1M-10M\n\nOver 10M",
        "help_text": "",
        "position": "1",
        "is_active": "on",
    }


def _check(world):
    return {
        "name": "Sanctions screening done",
        "description": "",
        "required": "on",
        "position": "2",
        "is_active": "on",
    }


def _rule(world):
    with world.scope():
        region = Region.objects.get(code="na")
    return {
        "name": "North America resellers",
        "priority": "10",
        "is_active": "on",
        "regions": [str(region.pk)],
        "countries": [],
        "partner_types": ["reseller"],
        "manager": str(world[Role.CHANNEL_MANAGER].user.pk),
    }


CONFIG = [
    ("question", Question, _question),
    ("vettingcheck", VettingCheck, _check),
    ("assignmentrule", AssignmentRule, _rule),
]


@pytest.mark.parametrize(("name", "model", "data"), CONFIG, ids=[c[0] for c in CONFIG])
def test_ops_add_configuration_audited_in_their_tenant(acme, globex, name, model, data):
    response = acme.client(Role.OPS_ADMIN).post(url(name, "add"), data(acme))
    assert response.status_code == 302, form_errors(response)
    with acme.scope():
        made = model.objects.get()
        assert made.tenant == acme.tenant
        entry = AuditEntry.objects.get(action__endswith="_added", object_id=str(made.pk))
        assert entry.action.startswith("onboarding.")
    with globex.scope():
        assert not model.objects.exists()


@pytest.mark.parametrize(("name", "model", "data"), CONFIG, ids=[c[0] for c in CONFIG])
@pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE])
def test_other_staff_read_but_do_not_change(acme, name, model, data, role):
    client = acme.client(role)
    assert client.get(url(name, "changelist")).status_code == 200
    assert client.post(url(name, "add"), data(acme)).status_code == 403
    with acme.scope():
        assert not model.objects.exists()


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partner_people_have_no_configuration(acme, role):
    for name, _, _ in CONFIG:
        assert acme.client(role).get(url(name, "changelist")).status_code == 403
    assert acme.client(role).get(url("onboardingsettings", "changelist")).status_code == 403


def test_the_settings_row_opens_directly_and_saves_audited(acme, globex):
    client = acme.client(Role.OPS_ADMIN)
    response = client.get(url("onboardingsettings", "changelist"))
    assert response.status_code == 200
    with acme.scope():
        row = OnboardingSettings.for_tenant(acme.tenant)
        gold = Tier.objects.get(name="Gold")
    with globex.scope():
        foreign_tier = Tier.objects.get(name="Gold")
    choices = {str(c[0]) for c in form_fields(response)["entry_tier"].field.choices if c[0]}
    assert str(gold.pk) in choices and str(foreign_tier.pk) not in choices
    data = {
        "applications_open": "on",
        "welcome_text": "Join us",
        "decision_business_days": "3",
        "reminder_business_days": "1",
        "confirm_within_hours": "48",
        "limit_per_ip": "5",
        "limit_per_domain": "3",
        "entry_tier": str(gold.pk),
        "target_days": "90",
        "activation": "won",
        "step_reminder_days": "3",
        "stalled_after_days": "21",
        "agreement_grace_days": "30",
    }
    response = client.post(url("onboardingsettings", "change", row.pk), data)
    assert response.status_code == 302, form_errors(response)
    with acme.scope():
        row.refresh_from_db()
        assert (row.decision_business_days, row.entry_tier) == (3, gold)
        assert AuditEntry.objects.filter(action="onboarding.settings_changed").exists()
    # Another tenant's tier is refused.
    response = client.post(
        url("onboardingsettings", "change", row.pk), {**data, "entry_tier": str(foreign_tier.pk)}
    )
    assert response.status_code == 200 and "entry_tier" in form_errors(response)
    assert client.get(url("onboardingsettings", "add")).status_code == 403
    assert (
        acme.client(Role.CHANNEL_MANAGER)
        .post(url("onboardingsettings", "change", row.pk), data)
        .status_code
        == 403
    )


def form_fields(response):
    return {f.name: f for f in response.context["adminform"].form}


def test_question_options_are_checked(acme):
    client = acme.client(Role.OPS_ADMIN)
    response = client.post(url("question", "add"), {**_question(acme), "choices": "Only one"})
    assert "choices" in form_errors(response)
    response = client.post(url("question", "add"), {**_question(acme), "choices": "A\nB\nA"})
    assert "Options listed twice: A." in form_errors(response)["choices"]
    response = client.post(
        url("question", "add"), {**_question(acme), "field_type": "text", "choices": "A\nB"}
    )
    assert "choices" in form_errors(response)
    assert client.post(url("question", "add"), _question(acme)).status_code == 302
    with acme.scope():
        assert Question.objects.get().choice_list() == ["Under 1M", "1M-10M", "Over 10M"]


def test_a_question_answered_keeps_its_key(acme):
    with acme.scope():
        question = Question.objects.create(tenant=acme.tenant, key="revenue", label="Revenue")
        b.application(acme, answers={"revenue": "10M"})
    client = acme.client(Role.OPS_ADMIN)
    data = {**_question(acme), "key": "renamed", "field_type": "text", "choices": ""}
    assert client.post(url("question", "change", question.pk), data).status_code == 302
    with acme.scope():
        question.refresh_from_db()
        assert question.key == "revenue" and question.label == "Annual revenue"


def test_rule_managers_are_the_tenants_active_channel_managers(acme, globex):
    with acme.scope():
        gone = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="gone@acme.test")
        gone.is_active = False
        gone.save()
    with globex.scope():
        theirs = globex[Role.CHANNEL_MANAGER].user
        their_region = Region.objects.get(code="na")
    response = acme.client(Role.OPS_ADMIN).get(url("assignmentrule", "add"))
    fields = form_fields(response)
    managers = {str(c[0]) for c in fields["manager"].field.choices if c[0]}
    assert managers == {str(acme[Role.CHANNEL_MANAGER].user.pk)}
    regions = {str(c[0]) for c in fields["regions"].field.choices}
    with acme.scope():
        assert regions == {str(r.pk) for r in Region.objects.all()}
    assert str(their_region.pk) not in regions
    for bad in (
        {"manager": str(theirs.pk)},
        {"manager": str(acme[Role.OPS_ADMIN].user.pk)},
        {"manager": str(gone.user.pk)},
        {"regions": [str(their_region.pk)]},
    ):
        response = acme.client(Role.OPS_ADMIN).post(
            url("assignmentrule", "add"), {**_rule(acme), **bad}
        )
        assert response.status_code == 200, bad
        assert set(bad) & set(form_errors(response)), bad
    with acme.scope():
        assert not AssignmentRule.objects.exists()


def test_the_rule_list_flags_a_manager_who_left(acme):
    with acme.scope():
        cm = acme[Role.CHANNEL_MANAGER]
        b.rule(acme, cm.user, name="Everything")
        cm.is_active = False
        cm.save()
    page = acme.client(Role.OPS_ADMIN).get(url("assignmentrule", "changelist")).content.decode()
    assert "not an active channel manager" in page and "anything" in page


def test_a_check_ticked_on_an_application_is_kept(acme):
    with acme.scope():
        used = b.check(acme, "References")
        unused = b.check(acme, "Spare")
        app = b.queued(acme)
        from onboarding import vetting

        vetting.tick_check(app, used, by=acme[Role.OPS_ADMIN])
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(url("vettingcheck", "changelist")).content.decode()
    assert "References" in page
    response = client.post(url("vettingcheck", "delete", used.pk), {"post": "yes"})
    assert response.status_code == 200  # the page names what protects it
    assert client.post(url("vettingcheck", "delete", unused.pk), {"post": "yes"}).status_code == 302
    with acme.scope():
        assert list(VettingCheck.objects.all()) == [used]


def test_another_tenants_configuration_is_404(acme, globex):
    with globex.scope():
        objects = {
            "question": Question.objects.create(tenant=globex.tenant, key="k", label="K"),
            "vettingcheck": b.check(globex, "Theirs"),
            "assignmentrule": b.rule(globex, globex[Role.CHANNEL_MANAGER].user),
            "onboardingsettings": OnboardingSettings.for_tenant(globex.tenant),
        }
    client = acme.client(Role.OPS_ADMIN)
    for name, obj in objects.items():
        assert client.get(url(name, "change", obj.pk)).status_code == 404, name
