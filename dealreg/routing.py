"""Choosing who decides a new registration."""

import uuid
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from partners.services import region_for_country
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role

from .models import DealRegistration, RoutingRule

APPROVER_ROLES = (Role.CHANNEL_MANAGER, Role.OPS_ADMIN)


def _active_approvers(users: list[User]) -> list[User]:
    ids = set(
        Membership.objects.filter(
            user__in=users, role__in=APPROVER_ROLES, is_active=True, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    return [u for u in users if u.pk in ids]


def routing_gaps() -> Q:
    """Active rules that name nobody who may decide (their approver and every
    member of their pool left or lost the role): ``choose_approver`` passes
    over them, so the registrations they should route go elsewhere."""
    deciders = Membership.objects.filter(
        role__in=APPROVER_ROLES, is_active=True, user__is_active=True
    ).values("user_id")
    in_pool = RoutingRule.pool.through.objects.filter(
        routingrule_id=OuterRef("pk"), user_id__in=deciders
    )
    return (
        Q(is_active=True)
        & (Q(approver__isnull=True) | ~Q(approver_id__in=deciders))
        & ~Q(Exists(in_pool))
    )


def customer_region_id(registration: DealRegistration) -> uuid.UUID | None:
    """The region a rule sees: the one the partner chose, else the region
    whose countries include the customer's (the region is optional on the
    form, and a region rule must still route a customer in that region)."""
    if registration.customer_region_id:
        return registration.customer_region_id
    region = region_for_country(registration.tenant, str(registration.customer_country))
    return region.pk if region else None


@dataclass(frozen=True)
class RuleIds:
    """The ids of a rule's regions, tiers and product lines (from its
    prefetched relations)."""

    regions: set[uuid.UUID]
    tiers: set[uuid.UUID]
    products: set[uuid.UUID]

    @classmethod
    def of(cls, rule: RoutingRule) -> "RuleIds":
        return cls(
            regions={r.pk for r in rule.regions.all()},
            tiers={t.pk for t in rule.tiers.all()},
            products={p.pk for p in rule.product_lines.all()},
        )


def rule_matches(
    rule: RoutingRule,
    ids: RuleIds,
    registration: DealRegistration,
    product_ids: set[uuid.UUID],
    region_id: uuid.UUID | None = None,
) -> bool:
    partner = registration.partner
    checks = [
        not rule.countries or registration.customer_country in rule.countries,
        not ids.regions or region_id in ids.regions,
        # Routing runs as the registration is submitted: the tier held today
        # is the tier held on the submission day (partners.tiers), so no
        # history lookup is needed here.
        not ids.tiers or partner.tier_id in ids.tiers,
        not rule.partner_types or partner.partner_type in rule.partner_types,
        not ids.products or bool(ids.products & product_ids),
        rule.min_value is None or registration.estimated_value >= rule.min_value,
        rule.max_value is None or registration.estimated_value <= rule.max_value,
    ]
    return all(checks)


def _pick(rule: RoutingRule) -> User | None:
    if rule.approver is not None and _active_approvers([rule.approver]):
        return rule.approver
    pool = sorted(_active_approvers(list(rule.pool.all())), key=lambda u: u.email)
    if not pool:
        return None
    # Round-robin: the next member after the last one assigned by this rule.
    locked = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    emails = [u.email for u in pool]
    last = locked.last_assigned.email if locked.last_assigned else None
    position = (emails.index(last) + 1) % len(pool) if last in emails else 0
    chosen = pool[position]
    locked.last_assigned = chosen
    locked.save(update_fields=["last_assigned"])
    return chosen


def choose_approver(registration: DealRegistration) -> tuple[User | None, RoutingRule | None]:
    """The first matching active routing rule's approver (or the next of its
    pool); else the partner's channel manager; else the channel manager with
    the fewest pending registrations; else None (ops are told)."""
    product_ids = set(registration.product_lines.values_list("id", flat=True))
    rules = list(
        RoutingRule.objects.filter(is_active=True).prefetch_related(
            "regions", "tiers", "product_lines", "pool"
        )
    )
    ids = {rule.pk: RuleIds.of(rule) for rule in rules}
    needs_region = any(rule_ids.regions for rule_ids in ids.values())
    region_id = customer_region_id(registration) if needs_region else None
    for rule in rules:
        if rule_matches(rule, ids[rule.pk], registration, product_ids, region_id):
            chosen = _pick(rule)
            if chosen is not None:
                return chosen, rule
    manager = registration.partner.channel_manager
    if (
        manager is not None
        and Membership.objects.filter(
            user=manager, role=Role.CHANNEL_MANAGER, is_active=True
        ).exists()
    ):
        return manager, None
    managers = list(
        User.objects.filter(
            memberships__tenant_id=registration.tenant_id,
            memberships__role=Role.CHANNEL_MANAGER,
            memberships__is_active=True,
            is_active=True,
        ).order_by("email")
    )
    if not managers:
        return None, None
    pending = dict(
        DealRegistration.objects.filter(status__in=DealRegistration.PENDING, approver__in=managers)
        .values_list("approver")
        .annotate(n=Count("id"))
    )
    return min(managers, key=lambda u: (pending.get(u.pk, 0), u.email)), None
