import uuid
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import confirm, registry, services
from .access import role_required, visible_or_404
from .forms import AcceptInvitationForm, InviteForm
from .models import Invitation, Membership, Notification, User
from .params import page_of
from .requests import MemberRequest, TenantRequest
from .roles import PARTNER_ROLES, Role
from .text import plural


@role_required()
def home(request: MemberRequest) -> HttpResponse:
    """The member's home page: the cards the apps declare for their role,
    each with its live counts (what needs their attention)."""
    membership = request.membership
    template = "partner_home" if membership.is_partner_role else "staff_home"
    cards = home_cards(membership)
    return render(
        request,
        f"tenancy/{template}.html",
        {
            "cards": [c for c in cards if not c["card"].setup],
            "setup_cards": [c for c in cards if c["card"].setup],
        },
    )


def home_cards(membership: Membership) -> list[dict[str, Any]]:
    """The declared home cards this member sees, with their counts and
    (for cards of their own shape) their context, in declared order."""
    shown: list[dict[str, Any]] = []
    for card in registry.cards():
        if card.perms and not any(membership.has_perm(p) for p in card.perms):
            continue
        if card.visible is not None and not card.visible(membership):
            continue
        counts = list(card.counts(membership)) if card.counts and not card.setup else []
        shown.append(
            {
                "card": card,
                "url": reverse(card.url_name) if card.url_name else "",
                "counts": counts,
                "context": dict(card.context(membership)) if card.context else {},
            }
        )
    return shown


def _people_scope(
    membership: Membership,
) -> tuple[QuerySet[Membership], QuerySet[Invitation]]:
    """Memberships and invitations a manager of people sees: all of the
    tenant for ops, their own organisation for a partner admin."""
    memberships = Membership.objects.select_related("user", "partner")
    invitations = Invitation.objects.select_related("partner", "invited_by").filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )
    if membership.role == Role.PARTNER_ADMIN:
        memberships = memberships.filter(partner=membership.partner)
        invitations = invitations.filter(partner=membership.partner)
    return memberships, invitations


PEOPLE_PERMS = ("people.manage_staff", "people.manage_partner_colleagues")
PEOPLE_PAGE_SIZE = 50


@role_required(*PEOPLE_PERMS)
def people(request: MemberRequest, form: InviteForm | None = None) -> HttpResponse:
    membership = request.membership
    memberships, invitations = _people_scope(membership)
    form = form or InviteForm(membership=membership, roles=services.invitable_roles(membership))
    members_page = page_of(
        request,
        Paginator(
            memberships.order_by("-is_active", "partner__name", "user__email", "pk"),
            PEOPLE_PAGE_SIZE,
        ),
    )
    return render(
        request,
        "tenancy/people.html",
        {
            "memberships": members_page.object_list,
            "page_obj": members_page,
            "invitations": invitations.order_by("-created_at"),
            "form": form,
        },
        status=400 if form.is_bound else 200,
    )


@role_required(*PEOPLE_PERMS)
@require_POST
def people_invite(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    form = InviteForm(
        request.POST, membership=membership, roles=services.invitable_roles(membership)
    )
    if not form.is_valid():
        return people(request, form=form)
    try:
        invitation, _token = services.invite(
            tenant=request.tenant,
            by=membership,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            partner=form.cleaned_data.get("partner"),
        )
    except services.TenancyError as exc:
        form.add_error("email", str(exc))
        return people(request, form=form)
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("people")


@role_required(*PEOPLE_PERMS)
@require_POST
def invitation_revoke(request: MemberRequest, invitation_id: uuid.UUID) -> HttpResponse:
    _memberships, invitations = _people_scope(request.membership)
    invitation = visible_or_404(invitations, pk=invitation_id)
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Revoke the invitation for {invitation.email}?",
            object_label=f"{invitation.email} · {invitation.get_role_display()}"
            + (f" · {invitation.partner.name}" if invitation.partner else ""),
            consequences=[
                f"The link sent to {invitation.email} stops working at once.",
                "A revoked invitation cannot be reopened: to let them join, invite them again.",
            ],
            action_label="Revoke the invitation",
            cancel_url=reverse("people"),
        ),
        hidden={},
    )
    if page is not None:
        return page
    try:
        services.revoke_invitation(invitation, by=request.membership)
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    except services.TenancyError as exc:
        messages.error(request, str(exc))
    return redirect("people")


def deactivation_consequences(target: Membership) -> list[str]:
    """What deactivating ``target`` takes away, in the manager's words."""
    who = target.user.get_full_name() or target.user.email
    where = f" at {target.partner.name}" if target.partner else ""
    sentences = [
        f"{who} can no longer sign in to {target.tenant.name}: they are signed out at "
        "their next request.",
        f"They lose their access as {target.get_role_display().lower()}{where}, "
        "and stop receiving its notifications.",
    ]
    sent = sorted(services.open_invitations_sent(target).values_list("email", flat=True))
    if sent:
        these = "The open invitation" if len(sent) == 1 else f"The {len(sent)} open invitations"
        sentences.append(
            f"{these} they sent ({', '.join(sent)}) {'is' if len(sent) == 1 else 'are'} revoked."
        )
    sentences.append("Nothing they did is deleted, and you can reactivate them later on this page.")
    return sentences


@role_required(*PEOPLE_PERMS)
def membership_set_active(request: MemberRequest, membership_id: uuid.UUID) -> HttpResponse:
    """Reactivating acts at once; deactivating asks first (GET, or a POST
    without ``confirm=yes``), saying what the person loses."""
    memberships, _invitations = _people_scope(request.membership)
    target = visible_or_404(memberships.select_related("tenant"), pk=membership_id)
    active = request.method == "POST" and request.POST.get("active") == "1"
    if not active and target.is_active and target.pk != request.membership.pk:
        page = confirm.ask(
            request,
            confirm.Confirmation(
                title=f"Deactivate {target.user.get_full_name() or target.user.email}?",
                object_label=f"{target.user.email} · {target.get_role_display()}"
                + (f" · {target.partner.name}" if target.partner else ""),
                consequences=deactivation_consequences(target),
                action_label="Deactivate",
                cancel_url=reverse("people"),
            ),
            hidden={"active": "0"},
        )
        if page is not None:
            return page
    elif request.method != "POST":
        return redirect("people")
    try:
        services.set_membership_active(target, by=request.membership, active=active)
        verb = "reactivated" if active else "deactivated"
        messages.success(request, f"{target.user} {verb}.")
    except services.TenancyError as exc:
        messages.error(request, str(exc))
    return redirect("people")


def accept_invitation(request: TenantRequest, token: str) -> HttpResponse:
    invitation = services.find_open_invitation(token)
    if invitation is None:
        return render(request, "tenancy/invitation_invalid.html", status=404)
    if request.user.is_authenticated:
        messages.info(request, "You are already logged in here.")
        return redirect("home")
    existing = User.objects.filter(email__iexact=invitation.email).exists()
    form = AcceptInvitationForm(request.POST or None, existing_account=existing)
    if request.method == "POST" and form.is_valid():
        try:
            if existing:
                # Proving an existing account's password counts against the
                # same failed-login limit as the login form.
                get_account_adapter(request).pre_authenticate(request, email=invitation.email)
            membership = services.accept_invitation(
                invitation,
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data.get("full_name", ""),
            )
        except ValidationError as exc:
            form.add_error("password", exc)
        except services.TenancyError as exc:
            form.add_error("password", str(exc))
        else:
            login(
                request,
                membership.user,
                backend="prm.tenancy.auth.TenantAuthenticationBackend",
            )
            messages.success(request, f"Welcome to {request.tenant.name}.")
            return redirect("home")
    return render(
        request,
        "tenancy/accept_invitation.html",
        {
            "invitation": invitation,
            "form": form,
            "partner_role": invitation.role in PARTNER_ROLES,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


NOTIFICATIONS_PAGE_SIZE = 25
# The list's views: ?show=<key> -> (label, filter).
NOTIFICATION_VIEWS: dict[str, tuple[str, Q]] = {
    "all": ("All", Q()),
    "unread": ("Unread", Q(read_at__isnull=True)),
    "action": ("Needs action", ~Q(task="") & Q(done_at__isnull=True)),
}


def _notification_view(request: MemberRequest) -> tuple[str, str]:
    """The chosen view of the list and, for an unknown one, what to say."""
    show = request.GET.get("show") or request.POST.get("show") or "all"
    if show not in NOTIFICATION_VIEWS:
        return "all", f'There is no view "{show[:40]}": showing all notifications.'
    return show, ""


def _back_to_notifications(show: str) -> HttpResponse:
    url = reverse("notifications")
    return redirect(f"{url}?show={show}" if show != "all" else url)


@role_required("notifications.view")
def notifications(request: MemberRequest) -> HttpResponse:
    """The member's own notifications, newest first: all, the unread ones or
    those asking them to do something not done yet."""
    show, problem = _notification_view(request)
    mine = Notification.objects.filter(user=request.user)
    chosen = mine.filter(NOTIFICATION_VIEWS[show][1]).order_by("-created_at", "-pk")
    page = page_of(request, Paginator(chosen, NOTIFICATIONS_PAGE_SIZE))
    tallies = mine.aggregate(
        **{
            key: Count("pk", filter=condition)
            for key, (_l, condition) in NOTIFICATION_VIEWS.items()
        }
    )
    return render(
        request,
        "tenancy/notifications.html",
        {
            "notifications": page.object_list,
            "page_obj": page,
            "show": show,
            "problem": problem,
            "views": [
                {"key": key, "label": label, "count": tallies[key], "current": key == show}
                for key, (label, _c) in NOTIFICATION_VIEWS.items()
            ],
        },
        status=400 if problem else 200,
    )


@role_required("notifications.view")
@require_POST
def notifications_read_all(request: MemberRequest) -> HttpResponse:
    marked = Notification.objects.filter(user=request.user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        messages.success(request, f"{plural(marked, 'notification')} marked read.")
    return _back_to_notifications(_notification_view(request)[0])


def _own_notification(request: MemberRequest) -> Notification | None:
    """The member's notification named in the POST body (404 for anyone
    else's); None when the body names none."""
    try:
        note_id = uuid.UUID(request.POST.get("notification", ""))
    except ValueError:
        return None
    return visible_or_404(Notification.objects.filter(user=request.user), pk=note_id)


@role_required("notifications.view")
@require_POST
def notification_read(request: MemberRequest) -> HttpResponse:
    """Mark one of the member's notifications read, staying on the list."""
    note = _own_notification(request)
    if note is None:
        raise BadRequest("Say which notification to mark read.")
    Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=timezone.now())
    return _back_to_notifications(_notification_view(request)[0])


@role_required("notifications.view")
@require_POST
def notification_open(request: MemberRequest) -> HttpResponse:
    """Mark one of the member's notifications read and go where it points
    (back to the list when it points nowhere on this site)."""
    note = _own_notification(request)
    if note is None:
        raise BadRequest("Say which notification to open.")
    if note.read_at is None:
        Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=timezone.now())
    target = note.url
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("notifications")
