"""Payout runs in the tenant admin: the list, starting a run, a run's page
(progress, lines, hold/release, approve, mark paid, cancel, retry), the
accounts-payable export, and who may see and do what, in which tenant."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incentives import payouts
from incentives.models import LedgerEntry, PayoutLine, PayoutRun
from prm.tenancy.roles import ALL_ROLES, Role
from tests import factories

from .test_payouts import book

pytestmark = pytest.mark.django_db

Status = PayoutRun.Status
Line = PayoutLine.Status
CHANGELIST = reverse("tenant_admin:incentives_payoutrun_changelist")
ADD = reverse("tenant_admin:incentives_payoutrun_add")
EXPORT = reverse("tenant_admin:incentives_payoutrun_export")
READERS = {Role.FINANCE, Role.EXECUTIVE}


def change_url(run) -> str:
    return reverse("tenant_admin:incentives_payoutrun_change", args=[run.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def fresh(world, obj):
    with world.scope():
        return type(obj).objects.get(pk=obj.pk)


def in_review(world, *amounts) -> PayoutRun:
    """A computed run: the world's partner has the first amount payable,
    the other partner the second (if given)."""
    today = world.tenant.local_today()
    with world.scope():
        for partner, amount in zip([world.partner, world.other_partner], amounts, strict=False):
            book(world, partner, amount, available_on=today)
        run = payouts.start_run(world.tenant, by=world[Role.FINANCE], cutoff=today)
        return payouts.compute_run(run)


def approved(world, *amounts) -> PayoutRun:
    run = in_review(world, *amounts)
    with world.scope():
        run = payouts.approve(run, by=world.second(Role.FINANCE))
        return payouts.write_payouts(run)


def checker_client(world):
    """A client of the second finance person (not the one who started the runs)."""
    world.second(Role.FINANCE)
    return world.client(f"second_{Role.FINANCE}")


def line_of(world, run, partner) -> PayoutLine:
    with world.scope():
        return PayoutLine.objects.get(run=run, partner=partner)


# --- Who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_list_page_and_export_by_role(acme, role):
    run = approved(acme, "120")
    client = acme.client(role)
    expected = 200 if role in READERS else 403
    assert client.get(CHANGELIST).status_code == expected
    assert client.get(change_url(run)).status_code == expected
    assert client.get(ADD).status_code == (200 if role == Role.FINANCE else 403)
    assert client.get(EXPORT).status_code == (200 if role == Role.FINANCE else 403)
    csv_response = client.get(EXPORT, {"run": str(run.pk)})
    assert csv_response.status_code == (200 if role == Role.FINANCE else 403)


def test_nobody_deletes_a_run(acme):
    run = in_review(acme, "120")
    url = reverse("tenant_admin:incentives_payoutrun_delete", args=[run.pk])
    assert acme.client(Role.FINANCE).get(url).status_code == 403
    assert acme.client(Role.FINANCE).post(url, {"post": "yes"}).status_code == 403
    assert fresh(acme, run).status == Status.REVIEW


def test_changelist_shows_runs_in_constant_queries(acme, django_assert_max_num_queries):
    client = acme.client(Role.FINANCE)
    first = approved(acme, "120")
    client.get(CHANGELIST)  # warm caches (session, membership)
    with django_assert_max_num_queries(12) as one:
        response = client.get(CHANGELIST)
    with acme.scope():
        payouts.mark_paid(first, by=acme[Role.FINANCE], reference="B-1")
        for _ in range(4):
            run = payouts.start_run(
                acme.tenant, by=acme[Role.FINANCE], cutoff=acme.tenant.local_today()
            )
            payouts.cancel(run, by=acme[Role.FINANCE], reason="Test")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(CHANGELIST)
    content = response.content.decode()
    assert first.reference in content
    assert "120.00 USD" in content
    assert "Export AP CSV" in content
    assert "Export AP CSV" not in acme.client(Role.EXECUTIVE).get(CHANGELIST).content.decode()


# --- Starting a run ---------------------------------------------------------------------------


def test_start_a_run_from_the_add_page(acme, django_capture_on_commit_callbacks):
    today = acme.tenant.local_today()
    with acme.scope():
        book(acme, acme.partner, "80", available_on=today)
    client = acme.client(Role.FINANCE)
    page = client.get(ADD)
    assert f'value="{today:%Y-%m-%d}"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADD, {"cutoff": f"{today:%Y-%m-%d}"})
    with acme.scope():
        run = PayoutRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(run)
    assert run.status == Status.REVIEW  # the compute task ran after commit
    # Submitting again (a double click) starts nothing more.
    again = client.post(ADD, {"cutoff": f"{today:%Y-%m-%d}"})
    assert again.status_code == 200
    assert f"{run.reference} is still in review" in again.content.decode()
    with acme.scope():
        assert PayoutRun.objects.count() == 1


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        ("", "This field is required."),
        ("not-a-date", "Enter a valid date."),
        ("2999-01-01", "The cutoff cannot be in the future"),
    ],
)
def test_start_refuses_bad_cutoffs(acme, cutoff, message):
    response = acme.client(Role.FINANCE).post(ADD, {"cutoff": cutoff})
    assert response.status_code == 200
    assert message in response.content.decode()
    with acme.scope():
        assert not PayoutRun.objects.exists()


def test_executive_cannot_start_a_run(acme):
    response = acme.client(Role.EXECUTIVE).post(ADD, {"cutoff": "2026-01-01"})
    assert response.status_code == 403
    with acme.scope():
        assert not PayoutRun.objects.exists()


# --- A run's page ------------------------------------------------------------------------------


def test_computing_run_shows_progress_and_refreshes(acme):
    with acme.scope():
        run = payouts.start_run(
            acme.tenant, by=acme[Role.FINANCE], cutoff=acme.tenant.local_today()
        )
        PayoutRun.objects.filter(pk=run.pk).update(partners_total=400, partners_done=120)
    content = acme.client(Role.EXECUTIVE).get(change_url(run)).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in content
    assert "120 of 400 partners" in content
    assert '<progress max="400" value="120">' in content
    assert "<script>" not in content  # no inline script (CSP)
    run = fresh(acme, run)
    with acme.scope():
        payouts.compute_run(run)
    content = acme.client(Role.EXECUTIVE).get(change_url(run)).content.decode()
    assert 'http-equiv="refresh"' not in content


def test_review_page_lists_lines_and_offers_finance_the_next_steps(acme):
    run = in_review(acme, "120", "20")
    content = checker_client(acme).get(change_url(run)).content.decode()
    assert acme.partner.name in content and acme.other_partner.name in content
    assert "120.00 USD" in content and "Below minimum" in content
    assert 'value="approve"' in content and 'value="cancel"' in content
    assert 'value="hold"' in content
    # Executives read it, without a form.
    content = acme.client(Role.EXECUTIVE).get(change_url(run)).content.decode()
    assert acme.partner.name in content
    assert "_action" not in content


def test_lines_are_paged_and_filtered(acme):
    today = acme.tenant.local_today()
    with acme.scope():
        for i in range(105):
            partner = factories.make_partner(acme.tenant, f"Paged Partner {i:03d}")
            book(acme, partner, "10" if i % 2 else "100", available_on=today)
        run = payouts.compute_run(
            payouts.start_run(acme.tenant, by=acme[Role.FINANCE], cutoff=today)
        )
    client = acme.client(Role.FINANCE)
    first = client.get(change_url(run)).content.decode()
    assert "page 1 of 2" in first
    assert "Paged Partner 000" in first and "Paged Partner 104" not in first
    ready = client.get(change_url(run), {"status": Line.BELOW_MINIMUM}).content.decode()
    assert "Paged Partner 001" in ready and "Paged Partner 000" not in ready


def test_hold_and_release_from_the_page(acme):
    run = in_review(acme, "120", "200")
    line = line_of(acme, run, acme.partner)
    client = acme.client(Role.FINANCE)
    refused = client.post(change_url(run), {"_action": "hold", "line": line.pk, "reason": ""})
    assert refused.status_code == 200
    assert f"Give the reason for holding {acme.partner.name}" in refused.content.decode()
    assert fresh(acme, line).status == Line.READY
    response = client.post(
        change_url(run), {"_action": "hold", "line": line.pk, "reason": "Bank details missing"}
    )
    assert response.status_code == 302
    assert fresh(acme, line).status == Line.HOLD
    assert "Bank details missing" in client.get(change_url(run)).content.decode()
    assert fresh(acme, run).total_payable == Decimal("200.00")
    response = client.post(change_url(run), {"_action": "release", "line": line.pk})
    assert response.status_code == 302
    assert fresh(acme, line).status == Line.READY


def test_hold_of_a_line_of_another_run_is_404(acme):
    first = in_review(acme, "120")
    stranger = line_of(acme, first, acme.partner)
    with acme.scope():
        payouts.cancel(first, by=acme[Role.FINANCE], reason="Redo")
    second = in_review(acme)
    response = acme.client(Role.FINANCE).post(
        change_url(second), {"_action": "hold", "line": stranger.pk, "reason": "x"}
    )
    assert response.status_code == 404


def test_approve_mark_paid_and_export_from_the_page(acme, django_capture_on_commit_callbacks):
    run = in_review(acme, "120")
    client = checker_client(acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(run), {"_action": "approve"})
    assert response.status_code == 302
    run = fresh(acme, run)
    assert run.status == Status.APPROVED
    page = client.get(change_url(run)).content.decode()
    assert "Export AP CSV" in page and 'value="mark_paid"' in page

    refused = client.post(change_url(run), {"_action": "mark_paid", "reference": " "})
    assert "This field is required." in refused.content.decode()
    future = acme.tenant.local_today() + timedelta(days=3)
    refused = client.post(
        change_url(run), {"_action": "mark_paid", "reference": "B-9", "paid_on": f"{future}"}
    )
    assert "The paid date cannot be in the future." in refused.content.decode()
    assert fresh(acme, run).status == Status.APPROVED

    response = client.post(change_url(run), {"_action": "mark_paid", "reference": "BATCH-9"})
    assert response.status_code == 302
    run = fresh(acme, run)
    assert (run.status, run.payment_reference) == (Status.PAID, "BATCH-9")
    assert "BATCH-9" in client.get(change_url(run)).content.decode()


def test_cancel_from_the_page_needs_a_reason(acme):
    run = in_review(acme, "120")
    client = acme.client(Role.FINANCE)
    refused = client.post(change_url(run), {"_action": "cancel", "reason": ""})
    assert "This field is required." in refused.content.decode()
    assert fresh(acme, run).status == Status.REVIEW
    asked = client.post(change_url(run), {"_action": "cancel", "reason": "Wrong cutoff"})
    assert asked.templates[0].name == "admin/confirm.html"
    assert fresh(acme, run).status == Status.REVIEW
    client.post(change_url(run), {"_action": "cancel", "reason": "Wrong cutoff", "confirm": "yes"})
    assert fresh(acme, run).status == Status.CANCELLED
    assert "Wrong cutoff" in client.get(change_url(run)).content.decode()


def test_refused_step_shows_the_services_message(acme):
    run = in_review(acme, "20")  # below the minimum: nothing to approve
    response = checker_client(acme).post(change_url(run), {"_action": "approve"})
    assert response.status_code == 200
    assert "No partner is ready to be paid" in response.content.decode()
    assert fresh(acme, run).status == Status.REVIEW


def test_failed_run_offers_retry(acme, django_capture_on_commit_callbacks):
    run = in_review(acme, "120")
    with acme.scope():
        PayoutRun.objects.filter(pk=run.pk).update(status=Status.COMPUTING)
        payouts.record_failure(run, RuntimeError("boom"))
    client = acme.client(Role.FINANCE)
    assert "RuntimeError: boom" in client.get(change_url(run)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(run), {"_action": "retry"})
    assert response.status_code == 302
    assert fresh(acme, run).status == Status.REVIEW


def test_executive_posting_an_action_is_403(acme):
    run = in_review(acme, "120")
    line = line_of(acme, run, acme.partner)
    client = acme.client(Role.EXECUTIVE)
    for data in (
        {"_action": "approve"},
        {"_action": "cancel", "reason": "x"},
        {"_action": "hold", "line": line.pk, "reason": "x"},
    ):
        assert client.post(change_url(run), data).status_code == 403
    assert fresh(acme, run).status == Status.REVIEW


def test_unknown_action_is_400_and_plain_post_403(acme):
    run = in_review(acme, "120")
    client = acme.client(Role.FINANCE)
    assert client.post(change_url(run), {"_action": "delete_everything"}).status_code == 400
    assert client.post(change_url(run), {"status": "paid"}).status_code == 403
    assert fresh(acme, run).status == Status.REVIEW


# --- Other tenants ------------------------------------------------------------------------------


def test_other_tenants_runs_are_404(acme, globex):
    run = approved(acme, "120")
    line = line_of(acme, run, acme.partner)
    intruder = globex.client(Role.FINANCE)
    assert intruder.get(change_url(run)).status_code == 404
    for data in ({"_action": "mark_paid", "reference": "x"}, {"_action": "cancel", "reason": "x"}):
        assert intruder.post(change_url(run), data).status_code == 404
    assert (
        intruder.post(
            change_url(run), {"_action": "hold", "line": line.pk, "reason": "x"}
        ).status_code
        == 404
    )
    assert intruder.get(EXPORT, {"run": str(run.pk)}).status_code == 404
    history = reverse("tenant_admin:incentives_payoutrun_history", args=[run.pk])
    assert intruder.get(history).status_code == 404
    assert run.reference not in intruder.get(CHANGELIST).content.decode()
    assert run.reference not in intruder.get(EXPORT).content.decode()
    assert fresh(acme, run).status == Status.APPROVED


# --- The accounts-payable export ------------------------------------------------------------------


def test_ap_csv(acme):
    with acme.scope():
        acme.partner.name = '=HYPERLINK("http://evil")'
        acme.partner.legal_name = "+Evil Corp"
        acme.partner.save()
    run = approved(acme, "1234.56", "20")
    client = acme.client(Role.FINANCE)
    listing = client.get(EXPORT).content.decode()
    assert run.reference in listing and f"?run={run.pk}" in listing
    response = client.get(EXPORT, {"run": str(run.pk)})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"{run.reference}-accounts-payable" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "partner",
        "legal name",
        "partner id",
        "country",
        "amount",
        "currency",
        "payout run",
        "cutoff",
        "payment reference",
        "status",
    ]
    assert rows[1:] == [
        [
            '\'=HYPERLINK("http://evil")',
            "'+Evil Corp",
            str(acme.partner.pk),
            "US",
            "1234.56",
            "USD",
            run.reference,
            f"{run.cutoff:%Y-%m-%d}",
            "",
            "Approved",
        ]
    ]  # the other partner is below the minimum: not paid, not exported


def test_export_of_a_run_not_yet_approved_or_unknown(acme):
    run = in_review(acme, "120")
    client = acme.client(Role.FINANCE)
    response = client.get(EXPORT, {"run": str(run.pk)})
    assert response.status_code == 302
    assert response["Location"] == change_url(run)
    assert any("only approved or paid runs" in m for m in messages_of(response))
    assert f"?run={run.pk}" not in client.get(EXPORT).content.decode()
    garbage = client.get(EXPORT, {"run": "not-a-uuid"})
    assert garbage.status_code == 400
    assert "“not-a-uuid” is not a payout run." in garbage.content.decode()
    assert client.get(EXPORT, {"run": str(uuid.uuid4())}).status_code == 404
    with acme.scope():
        assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYOUT).exists()
