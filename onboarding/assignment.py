"""Who looks after an applicant: the channel manager an approved
application's partner gets, and the reviewer of an application.

The tenant's ``AssignmentRule`` rows are read in priority order; the first
active rule whose every given condition (regions, countries, partner types)
matches the application names its manager, provided that manager is still
an active channel manager here (a rule naming someone who left is passed
over, not obeyed). When no rule does, a new partner goes to the least busy
channel manager: the fewest partners managed, ties by email.
"""

from typing import Any

from django.db.models import Count, QuerySet

from partners.models import Partner
from partners.services import region_for_country
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role

from .models import Application, AssignmentRule


def active_channel_managers() -> QuerySet[User]:
    """Users with an active channel manager membership in the current
    tenant (the scope filters the memberships)."""
    managers = Membership.objects.filter(
        role=Role.CHANNEL_MANAGER, is_active=True, user__is_active=True
    ).values("user_id")
    return User.objects.filter(pk__in=managers, is_active=True)


def is_active_channel_manager(user: User | None) -> bool:
    return user is not None and active_channel_managers().filter(pk=user.pk).exists()


def rule_matches(rule: AssignmentRule, application: Application, region_id: Any) -> bool:
    """Every condition the rule gives holds (an empty one matches anything).
    ``rule.regions`` is read from its prefetched rows."""
    region_ids = {r.pk for r in rule.regions.all()}
    return all(
        (
            not rule.countries or str(application.country) in {c.code for c in rule.countries},
            not region_ids or region_id in region_ids,
            not rule.partner_types or application.partner_type in rule.partner_types,
        )
    )


def matching_rule(application: Application) -> AssignmentRule | None:
    """The first active rule that matches the application and whose manager
    is an active channel manager."""
    rules = list(
        AssignmentRule.objects.filter(is_active=True)
        .select_related("manager")
        .prefetch_related("regions")
        .order_by("priority", "name")
    )
    if not rules:
        return None
    region = region_for_country(application.tenant, str(application.country))
    region_id = region.pk if region else None
    managers = set(active_channel_managers().values_list("pk", flat=True))
    for rule in rules:
        if rule.manager_id in managers and rule_matches(rule, application, region_id):
            return rule
    return None


def least_busy_manager() -> User | None:
    """The active channel manager managing the fewest partners (ties by
    email); None when the tenant has none."""
    managers = list(active_channel_managers().order_by("email"))
    if not managers:
        return None
    counts = dict(
        Partner.objects.filter(channel_manager__in=managers)
        .order_by()
        .values("channel_manager")
        .annotate(n=Count("pk"))
        .values_list("channel_manager", "n")
    )
    return min(managers, key=lambda u: (counts.get(u.pk, 0), u.email))


def choose_manager(application: Application) -> User | None:
    """The channel manager an approved application's partner gets: the
    first matching rule's, else the least busy; None when there is none."""
    rule = matching_rule(application)
    if rule is not None:
        return rule.manager
    return least_busy_manager()


def choose_reviewer(application: Application) -> tuple[User | None, AssignmentRule | None]:
    """Who reviews a queued application: the manager of the first matching
    rule (the channel manager the partner would get), else nobody: ops
    review what no rule routes."""
    rule = matching_rule(application)
    return (rule.manager, rule) if rule is not None else (None, None)


__all__ = [
    "active_channel_managers",
    "choose_manager",
    "choose_reviewer",
    "is_active_channel_manager",
    "least_busy_manager",
    "matching_rule",
    "rule_matches",
]
