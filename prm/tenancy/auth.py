"""Logging in is per tenant: the host decides which membership counts."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .models import Membership, User
from .ratelimits import login_lockout_message


def may_log_in_here(user: User, request: HttpRequest | None) -> bool:
    """A person may log in on a tenant's host only with an active membership
    there, and on the platform host only as a superuser."""
    if request is None or not user.is_active:
        return False
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return user.is_superuser
    return Membership.objects.filter(user=user, is_active=True).exists()


class TenantAuthenticationBackend(AuthenticationBackend):
    """allauth's email/password backend, refusing people who are not members
    of the request's tenant with the same message as a wrong password."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        user: User | None = super().authenticate(request, **credentials)
        if user is not None and may_log_in_here(user, request):
            return user
        return None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # People join a tenant through invitations (and, later, partner
        # applications in onboarding), never by open sign-up.
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's failed-login limit, whose message says when to try again
        ("Try again in 4 minutes (after 14:05)."), not just "later"."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as error:
            if error.code != "too_many_login_attempts":
                raise
            key = self._get_login_attempts_cache_key(request, **credentials)
            raise ValidationError(
                login_lockout_message(request, key), code="too_many_login_attempts"
            ) from error

    def format_email_subject(self, subject: str) -> str:
        from django_scopes import get_scope

        tenant = get_scope().get("tenant")
        prefix = f"[{tenant.name}] " if tenant is not None else "[PRM] "
        return prefix + subject
