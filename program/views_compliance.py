"""Partner portal "Compliance": the organisation's current compliance
review (the automatic items as they stand, with links to fix them; the
custom items; the tax document), submitting it, and earlier reviews.

Every member of the partner (``portal.compliance``) sees the review; its
partner admins answer, upload and submit (``portal.compliance_complete``:
a partner user gets 403 on those). A review of another partner, or of
another tenant, answers 404. An uploaded file is served to the partner's
own people and to staff (``program.view_compliancereview``), nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from partners.models import Partner
from prm.tenancy.access import own_or_404, role_required, visible_or_404
from prm.tenancy.errors import add_service_error
from prm.tenancy.files import serve
from prm.tenancy.requests import MemberRequest

from . import compliance, compliance_checks
from .errors import ProgramError
from .forms_compliance import AttestForm, FileForm
from .models import ComplianceAnswer, ComplianceItem, ComplianceReview, ComplianceSettings

PERM = compliance.PORTAL_PERM
COMPLETE_PERM = compliance.COMPLETE_PERM
STAFF_PERM = "program.view_compliancereview"
TAX = "tax"


@dataclass
class ItemRow:
    """A custom item with the partner's answer and the form to give it."""

    item: ComplianceItem
    answer: ComplianceAnswer | None
    form: forms.Form | None = None

    @property
    def file_url(self) -> str:
        if self.answer is None or not self.answer.file:
            return ""
        return reverse("program:compliance_answer_file", args=[self.answer.pk])


def _item_form(item: ComplianceItem, data: Any = None, files: Any = None) -> forms.Form:
    prefix = f"item-{item.pk}"
    if item.kind == ComplianceItem.Kind.FILE:
        return FileForm(data, files, prefix=prefix)
    return AttestForm(data, prefix=prefix)


def item_rows(
    review: ComplianceReview, may_complete: bool, bound: dict[Any, forms.Form]
) -> list[ItemRow]:
    """The items of an editable review (the active ones), else those answered."""
    answers = {a.item_id: a for a in review.answers.select_related("item")}
    if review.editable:
        items = list(ComplianceItem.objects.filter(is_active=True))
    else:
        items = [a.item for a in answers.values()]
    rows = []
    for item in items:
        row = ItemRow(item, answers.get(item.pk))
        if may_complete:
            row.form = bound.get(item.pk) or _item_form(item)
        rows.append(row)
    return rows


def _page(
    request: MemberRequest,
    bound: dict[Any, forms.Form] | None = None,
    submit_error: str = "",
    status: int = 200,
) -> HttpResponse:
    membership = request.membership
    assert membership.partner_id is not None  # portal.compliance is a partner role's
    bound = bound or {}
    partner = Partner.objects.select_related("tier", "tenant", "channel_manager").get(
        pk=membership.partner_id
    )
    review = compliance.current(partner)
    context: dict[str, Any] = {
        "partner": partner,
        "review": review,
        "enabled": ComplianceSettings.for_tenant(request.tenant).enabled,
        "submit_error": submit_error,
    }
    if review is not None:
        today = request.tenant.local_today()
        may_complete = review.editable and membership.has_perm(COMPLETE_PERM)
        context.update(
            checks=compliance_checks.automatic(review, today),
            rows=item_rows(review, may_complete, bound),
            may_complete=may_complete,
            tax_form=(bound.get(TAX) or FileForm(prefix=TAX)) if may_complete else None,
            overdue=review.is_overdue(today),
            days_left=(review.due_on - today).days,
            # A refusal whose form the page no longer shows (the review
            # was submitted meanwhile) is said above it.
            page_errors=[]
            if may_complete
            else [str(e) for form in bound.values() for errs in form.errors.values() for e in errs],
            earlier=ComplianceReview.objects.filter(partner=partner)
            .exclude(pk=review.pk)
            .select_related("signed_off_by")[:10],
        )
    return render(request, "program/compliance.html", context, status=status)


@require_GET
@role_required(PERM)
def compliance_page(request: MemberRequest) -> HttpResponse:
    return _page(request)


def _own_review(request: MemberRequest, review_id: UUID) -> ComplianceReview:
    """The member's partner's review, for its admins: 404 when unknown (or
    another tenant's or partner's), 403 for a member who may not complete it."""
    review = visible_or_404(ComplianceReview.objects.select_related("partner"), pk=review_id)
    return own_or_404(request, review, perm=COMPLETE_PERM)


def _done(anchor: str = "") -> HttpResponse:
    return redirect(compliance.portal_url() + (f"#{anchor}" if anchor else ""))


@require_POST
@role_required()
def answer(request: MemberRequest, review_id: UUID, item_id: UUID) -> HttpResponse:
    """Attest a custom item, or upload its file."""
    review = _own_review(request, review_id)
    item = visible_or_404(ComplianceItem.objects.all(), pk=item_id)
    form = _item_form(item, request.POST, request.FILES)
    if form.is_valid():
        try:
            if item.kind == ComplianceItem.Kind.FILE:
                compliance.upload_answer(
                    review, item, form.cleaned_data["file"], by=request.membership
                )
            else:
                compliance.attest(
                    review, item, by=request.membership, name=form.cleaned_data["name"]
                )
        except ProgramError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"“{item.label}” answered.")
            return _done(f"item-{item.pk}")
    return _page(request, bound={item.pk: form}, status=400)


@require_POST
@role_required()
def tax_document(request: MemberRequest, review_id: UUID) -> HttpResponse:
    review = _own_review(request, review_id)
    form = FileForm(request.POST, request.FILES, prefix=TAX)
    if form.is_valid():
        try:
            compliance.upload_tax_document(review, form.cleaned_data["file"], by=request.membership)
        except ProgramError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Tax document uploaded.")
            return _done("tax")
    return _page(request, bound={TAX: form}, status=400)


@require_POST
@role_required()
def submit(request: MemberRequest, review_id: UUID) -> HttpResponse:
    review = _own_review(request, review_id)
    was = review.status
    try:
        review = compliance.submit(review, by=request.membership)
    except ProgramError as exc:
        return _page(request, submit_error=str(exc), status=400)
    if was == ComplianceReview.Status.SUBMITTED:
        messages.info(request, "This review was already submitted.")
    else:
        messages.success(request, "Review submitted to your channel manager for sign-off.")
    return _done()


def _may_see(request: MemberRequest, review: ComplianceReview) -> bool:
    membership = request.membership
    if membership.partner_id is not None:
        return membership.has_perm(PERM) and review.partner_id == membership.partner_id
    return membership.has_perm(STAFF_PERM)


@require_GET
@role_required(PERM, STAFF_PERM)
def tax_file(request: MemberRequest, review_id: UUID) -> FileResponse:
    """The review's tax document, as an attachment under its uploaded name."""
    review = visible_or_404(ComplianceReview.objects.all(), pk=review_id)
    if not _may_see(request, review) or not review.file:
        raise Http404("No such file.")
    return serve(
        review.file, filename=review.file_name or "tax-document", content_type=review.file_type
    )


@require_GET
@role_required(PERM, STAFF_PERM)
def answer_file(request: MemberRequest, answer_id: UUID) -> FileResponse:
    answer = visible_or_404(ComplianceAnswer.objects.select_related("review"), pk=answer_id)
    if not _may_see(request, answer.review) or not answer.file:
        raise Http404("No such file.")
    return serve(
        answer.file, filename=answer.file_name or "document", content_type=answer.file_type
    )
