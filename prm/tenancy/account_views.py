"""The "My account" hub: one place for a member's profile, password,
two-factor authentication, email addresses, mails and sessions.

Password, two-factor, email addresses and sessions are allauth's own pages
(in the portal's layout, ``templates/allauth``); the hub links to them and
adds the profile and the mail preferences. Every member of the tenant, of
any role, has one; anonymous visitors are sent to log in, and a person who
is not a member of this host's tenant has no session here (the membership
middleware ends it).
"""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from . import account
from .access import role_required
from .forms import MailPreferencesForm, ProfileForm
from .requests import MemberRequest


@role_required()
def overview(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    user = request.user
    kinds = {a.type: a for a in Authenticator.objects.filter(user=user)}
    recovery = kinds.get(Authenticator.Type.RECOVERY_CODES)
    switches = account.mail_switches(membership)
    return render(
        request,
        "tenancy/account/overview.html",
        {
            "totp": Authenticator.Type.TOTP in kinds,
            "recovery_left": (
                len(recovery.wrap().get_unused_codes()) if recovery is not None else None
            ),
            "mfa_required": membership.is_staff_role and request.tenant.require_staff_mfa,
            "emails": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
            "mails_on": sum(1 for s in switches if s.email),
            "mails_total": len(switches),
            "session_count": UserSession.objects.filter(user=user).count(),
        },
    )


@role_required()
def profile(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    initial = {
        "full_name": request.user.full_name,
        "phone": request.user.phone,
        "title": membership.title,
    }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        membership.tenant = request.tenant
        account.update_profile(membership, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("account_profile")
    return render(
        request,
        "tenancy/account/profile.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )


@role_required()
def mails(request: MemberRequest) -> HttpResponse:
    """Which notifications are also mailed to the member, one switch per
    kind their role receives. In-app notifications come either way."""
    membership = request.membership
    form = MailPreferencesForm(request.POST or None, switches=account.mail_switches(membership))
    if request.method == "POST" and form.is_valid():
        membership.tenant = request.tenant
        changed = account.set_mail_preferences(membership, wanted=form.wanted())
        messages.success(
            request, "Your mail preferences are saved." if changed else "Nothing changed."
        )
        return redirect("account_mails")
    return render(request, "tenancy/account/mails.html", {"form": form})
