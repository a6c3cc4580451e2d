"""The partner application queue in the tenant admin: the list (the queue
by default, filters, search, constant queries), the application's page
(answers under their labels, escaped; duplicates named; the checklist;
the timeline) and its forms through the vetting services, who may do what,
in which tenant; and the staff home card's counts."""

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from onboarding import vetting, vetting_cards
from onboarding.models import Application, ApplicationCheck, ApplicationEvent, Question
from partners.models import Partner
from prm.tenancy.roles import Role

from . import builders_vetting as b

pytestmark = pytest.mark.django_db
Status = Application.Status
CHANGELIST = reverse("tenant_admin:onboarding_application_changelist")


def change_url(app):
    return reverse("tenant_admin:onboarding_application_change", args=[app.pk])


def act(client, app, action, confirm=True, **fields):
    data = {"_action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    if confirm:
        data["confirm"] = "yes"
    return client.post(change_url(app), data)


def listed(response):
    return [a.code for a in response.context["cl"].result_list]


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def fresh(world, app):
    with world.scope():
        return Application.objects.get(pk=app.pk)


def set_due(world, app, due):
    with world.scope():
        Application.objects.filter(pk=app.pk).update(due_at=due)


# --- The list ----------------------------------------------------------------------------


def test_the_list_opens_on_the_queue_oldest_due_first(acme):
    now = timezone.now()
    with acme.scope():
        late, soon, later = (b.queued(acme) for _ in range(3))
        asked = b.queued(acme)
        vetting.request_info(asked, by=acme[Role.OPS_ADMIN], question="Why?")
        rejected = b.queued(acme)
        vetting.reject(rejected, by=acme[Role.OPS_ADMIN], reason="No.")
        unconfirmed = b.application(acme, status=Status.UNCONFIRMED)
    set_due(acme, late, now - dt.timedelta(hours=2))
    set_due(acme, soon, now + dt.timedelta(hours=3))
    set_due(acme, later, now + dt.timedelta(days=3))
    client = acme.client(Role.OPS_ADMIN)
    response = client.get(CHANGELIST)
    assert listed(response) == [late.code, soon.code, later.code]
    page = response.content.decode()
    assert "dr-sla-breached" in page and "dr-sla-due_soon" in page  # late in red
    everything = set(listed(client.get(CHANGELIST + "?status=all")))
    assert everything == {a.code for a in (late, soon, later, asked, rejected, unconfirmed)}
    assert listed(client.get(CHANGELIST + "?status=more_info")) == [asked.code]
    assert listed(client.get(CHANGELIST + "?status=nonsense")) == []
    # A search looks through every status.
    assert listed(client.get(CHANGELIST + f"?q={rejected.code}")) == [rejected.code]


def test_filters_mine_overdue_and_duplicates(acme):
    cm = acme[Role.CHANNEL_MANAGER]
    with acme.scope():
        b.rule(acme, cm.user, countries=["DE"])
        routed = b.queued(acme, country="DE")
        unrouted = b.queued(acme)
        doubled = b.queued(acme, duplicate_partner=acme.partner)
        again = b.queued(acme, duplicate_application=unrouted)
    set_due(acme, unrouted, timezone.now() - dt.timedelta(minutes=5))
    ops = acme.client(Role.OPS_ADMIN)
    assert listed(acme.client(cm.role).get(CHANGELIST + "?reviewer=me")) == [routed.code]
    assert routed.code not in listed(ops.get(CHANGELIST + "?reviewer=me"))
    assert set(listed(ops.get(CHANGELIST + "?reviewer=me"))) == {
        unrouted.code,
        doubled.code,
        again.code,
    }
    assert listed(ops.get(CHANGELIST + "?deadline=overdue")) == [unrouted.code]
    assert set(listed(ops.get(CHANGELIST + "?duplicate=yes"))) == {doubled.code, again.code}
    page = ops.get(CHANGELIST + "?duplicate=yes").content.decode()
    assert "already a partner: Acme Reseller One" in page
    assert f"applied before: {unrouted.code}" in page


def test_the_list_is_constant_in_queries(acme, django_assert_max_num_queries):
    with acme.scope():
        b.queued(acme, duplicate_partner=acme.partner)
    client = acme.client(Role.OPS_ADMIN)
    client.get(CHANGELIST)
    with django_assert_max_num_queries(20) as few:
        client.get(CHANGELIST)
    with acme.scope():
        b.rule(acme, acme[Role.CHANNEL_MANAGER].user)
        for _ in range(6):
            first = b.queued(acme)
            b.queued(acme, duplicate_application=first)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 13


def test_another_tenants_applications_are_404(acme, globex):
    with globex.scope():
        foreign = b.queued(globex)
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(change_url(foreign)).status_code == 404
    assert act(client, foreign, "reject", reason="No.").status_code == 404
    assert act(client, foreign, "note", text="Hi").status_code == 404
    assert client.get(CHANGELIST + "?status=all").context["cl"].result_count == 0
    assert fresh(globex, foreign).status == Status.SUBMITTED


def test_applications_are_never_added_or_deleted_here(acme):
    with acme.scope():
        app = b.queued(acme)
    client = acme.client(Role.OPS_ADMIN)
    assert client.get(reverse("tenant_admin:onboarding_application_add")).status_code == 403
    delete = reverse("tenant_admin:onboarding_application_delete", args=[app.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert fresh(acme, app)


# --- The page ----------------------------------------------------------------------------


def test_the_page_shows_the_answers_under_their_labels_escaped(acme):
    with acme.scope():
        Question.objects.create(tenant=acme.tenant, key="revenue", label="Annual <b>revenue</b>")
        app = b.queued(
            acme,
            company="Evil <img src=x onerror=alert(1)> Ltd",
            specialities="<script>alert('s')</script>",
            answers={"revenue": "<script>alert(1)</script>", "gone": True},
        )
        vetting.add_note(app, by=acme[Role.OPS_ADMIN], text="<b>bold</b> claim")
    page = acme.client(Role.EXECUTIVE).get(change_url(app)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "Annual &lt;b&gt;revenue&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<dt>gone</dt><dd>Yes</dd>" in page  # a removed question keeps its key
    assert "&lt;b&gt;bold&lt;/b&gt; claim" in page


def test_the_page_names_the_duplicates(acme):
    with acme.scope():
        first = b.queued(acme)
        app = b.queued(acme, duplicate_partner=acme.partner, duplicate_application=first)
    page = acme.client(Role.CHANNEL_MANAGER).get(change_url(app)).content.decode()
    partner_url = reverse("tenant_admin:partners_partner_change", args=[acme.partner.pk])
    assert f'href="{partner_url}">Acme Reseller One</a>' in page
    assert f'href="{change_url(first)}">{first.code} {first.company_name}</a>' in page


def test_the_checklist_is_ticked_and_unticked_with_a_note(acme):
    with acme.scope():
        app = b.queued(acme)
        refs = b.check(acme, "References checked")
        b.check(acme, "Retired", is_active=False)
    client = acme.client(Role.OPS_ADMIN)
    response = client.get(change_url(app))
    assert [row["check"] for row in response.context["checklist"]] == [refs]
    response = act(client, app, "tick", check=refs.pk, note="Called two customers")
    assert response.status_code == 302 and "“References checked” ticked." in messages_of(response)
    page = client.get(change_url(app)).content.decode()
    assert "Ticked by ops.admin@acme.test" in page and "Called two customers" in page
    # Ticking again is refused on the check, the page shown again.
    response = act(client, app, "tick", check=refs.pk, note="")
    assert response.status_code == 200 and "ticked already" in response.content.decode()
    assert act(client, app, "untick", check=refs.pk, note="Wrong firm").status_code == 302
    with acme.scope():
        assert not ApplicationCheck.objects.exists()


def test_approve_asks_first_then_makes_the_partner(acme):
    with acme.scope():
        b.template(acme)
        refs = b.check(acme, "References checked")
        app = b.queued(acme, company="Fabrikam Partners")
    client = acme.client(Role.OPS_ADMIN)
    page = client.get(change_url(app)).content.decode()
    assert 'data-testid="missing-checks"' in page and "References checked" in page
    response = act(client, app, "approve")
    assert response.status_code == 200 and "Tick the required checks first" in (
        response.content.decode()
    )
    act(client, app, "tick", check=refs.pk)
    asked = act(client, app, "approve", confirm=False)
    assert asked.status_code == 200 and "Approve and invite" in asked.content.decode()
    with acme.scope():
        assert not Partner.objects.filter(name="Fabrikam Partners").exists()
    response = act(client, app, "approve")
    assert response.status_code == 302
    assert any("Fabrikam Partners is a partner now" in m for m in messages_of(response))
    done = fresh(acme, app)
    assert done.status == Status.APPROVED
    with acme.scope():
        assert Partner.objects.get(pk=done.partner_id).status == Partner.Status.ONBOARDING
    # The same form sent again: refused on the page, nothing made twice.
    again = act(client, app, "approve")
    assert again.status_code == 200 and "is approved" in again.content.decode()
    with acme.scope():
        assert Partner.objects.filter(name="Fabrikam Partners").count() == 1


def test_reject_with_a_reason_request_info_and_notes(acme):
    with acme.scope():
        app = b.queued(acme)
        other = b.queued(acme)
    client = acme.client(Role.OPS_ADMIN)
    response = act(client, app, "reject", confirm=False, reason="Not our market.")
    assert response.status_code == 200 and "Not our market." in response.content.decode()
    assert fresh(acme, app).status == Status.SUBMITTED
    response = act(client, app, "reject", reason="")
    assert response.status_code == 200 and response.context["forms"]["reject"].errors
    assert act(client, app, "reject", reason="Not our market.").status_code == 302
    assert fresh(acme, app).decision_reason == "Not our market."
    assert act(client, other, "request_info", question="Your top vendors?").status_code == 302
    assert fresh(acme, other).status == Status.MORE_INFO
    assert act(client, other, "note", text="Waiting on them.").status_code == 302
    with acme.scope():
        kinds = list(
            ApplicationEvent.objects.filter(application=other).values_list("kind", flat=True)
        )
    assert kinds == ["assigned", "info_requested", "note"]
    response = client.get(change_url(other))
    assert [e.kind for e in response.context["events"]] == kinds
    # Waiting for the applicant: no approval or second question offered.
    assert set(response.context["forms"]) == {"reject", "tick", "untick", "note"}


def test_actions_need_a_csrf_token(acme):
    with acme.scope():
        app = b.queued(acme)
    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
    client.force_login(
        acme[Role.OPS_ADMIN].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
    )
    response = client.post(change_url(app), {"_action": "note", "note-text": "x"})
    assert response.status_code == 403
    page = client.get(change_url(app)).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 4


# --- Who may do what ---------------------------------------------------------------------


def test_a_channel_manager_decides_only_what_is_routed_to_them(acme):
    cm = acme[Role.CHANNEL_MANAGER]
    with acme.scope():
        b.rule(acme, cm.user, countries=["DE"])
        mine = b.queued(acme, country="DE")
        theirs = b.queued(acme)
        refs = b.check(acme, "References")
    client = acme.client(cm.role)
    page = client.get(change_url(theirs))
    assert page.status_code == 200 and set(page.context["forms"]) == {"note"}
    assert 'data-testid="read-only"' in page.content.decode()
    for action, fields in (
        ("reject", {"reason": "No."}),
        ("request_info", {"question": "Why?"}),
        ("tick", {"check": refs.pk}),
        ("approve", {}),
    ):
        assert act(client, theirs, action, **fields).status_code == 403, action
    assert fresh(acme, theirs).status == Status.SUBMITTED
    # Their own: every decision, the approval included.
    page = client.get(change_url(mine))
    assert set(page.context["forms"]) == {
        "approve",
        "reject",
        "request_info",
        "tick",
        "untick",
        "note",
    }
    assert act(client, mine, "tick", check=refs.pk).status_code == 302
    assert act(client, mine, "reject", reason="Outside our focus.").status_code == 302
    assert fresh(acme, mine).status == Status.REJECTED


@pytest.mark.parametrize("role", [Role.FINANCE, Role.EXECUTIVE])
def test_finance_and_executives_read_only(acme, role):
    with acme.scope():
        app = b.queued(acme)
    client = acme.client(role)
    assert listed(client.get(CHANGELIST)) == [app.code]
    page = client.get(change_url(app))
    assert page.status_code == 200 and page.context["forms"] == {}
    for action, fields in (("note", {"text": "Hi"}), ("reject", {"reason": "No."})):
        assert act(client, app, action, **fields).status_code == 403
    assert fresh(acme, app).status == Status.SUBMITTED


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partner_people_have_no_admin(acme, role):
    with acme.scope():
        app = b.queued(acme)
    client = acme.client(role)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(app)).status_code == 403
    assert act(client, app, "reject", reason="No.").status_code == 403


# --- The staff home card -----------------------------------------------------------------


def figure(text):
    return int(re.match(r"\d+", text).group())


def test_the_card_counts_link_to_exactly_their_rows(acme):
    cm = acme[Role.CHANNEL_MANAGER]
    with acme.scope():
        b.rule(acme, cm.user, countries=["DE"])
        routed_late = b.queued(acme, country="DE")
        b.queued(acme, country="DE")
        unrouted_late = b.queued(acme)
        b.queued(acme, status=Status.UNCONFIRMED)
    past = timezone.now() - dt.timedelta(hours=1)
    set_due(acme, routed_late, past)
    set_due(acme, unrouted_late, past)
    with acme.scope():
        for_cm = vetting_cards.application_counts(cm)
        for_ops = vetting_cards.application_counts(acme[Role.OPS_ADMIN])
        assert vetting_cards.application_counts(acme[Role.FINANCE]) == []
    assert [figure(c.text) for c in for_cm] == [2, 1] and for_cm[1].urgent
    assert [figure(c.text) for c in for_ops] == [1, 2]  # ops hear of every overdue one
    for role, counts in ((cm.role, for_cm), (Role.OPS_ADMIN, for_ops)):
        for count in counts:
            response = acme.client(role).get(count.url)
            assert response.context["cl"].result_count == figure(count.text), count.url


def test_the_card_is_on_the_staff_home(acme):
    with acme.scope():
        b.queued(acme)
    page = acme.client(Role.OPS_ADMIN).get(reverse("home")).content.decode()
    assert "Partner applications" in page and "1 application waiting for you" in page
    page = acme.client(Role.FINANCE).get(reverse("home")).content.decode()
    assert "Partner applications" not in page
