"""Writing the ledger: exchange rates, entries, and bringing a won deal's
entries (and a rebate period's) in line with what the rules say.

Entries are only ever added. Each carries an idempotency key unique per
tenant, so writing the same entry twice (a retried task, two workers) stores
it once. Work on one partner's entries is serialized by a transaction-level
advisory lock, so two syncs of the same partner cannot both decide that an
entry is missing.

Tiers are effective-dated (``partners.tiers``): a per-deal plan limited to
tiers pays a deal when the partner held one of them on the deal's close date
(``won_close_date``), whatever tier it holds today; a rebate plan pays a
rule period when the partner held one of them on the period's last day (the
day the rebate is earned and dated, ``rebates``). Partner type and region
are today's.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import cast

from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from dealreg.models import DealRegistration
from partners import tiers as partner_tiers
from partners.models import Partner
from prm.tenancy.errors import ServiceError
from prm.tenancy.locks import advisory_xact_lock
from prm.tenancy.models import Tenant, User
from prm.tenancy.services import finish_tasks

from . import periods
from .models import (
    DealAccrualState,
    ExchangeRate,
    IncentiveSettings,
    LedgerEntry,
    Plan,
    PlanVersion,
)
from .money import ZERO, round_money, to_base
from .rules import Rule, deal_commission

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source
ONE = Decimal(1)
# The task of finance's notification that a won deal waits for an exchange
# rate (``tasks.sync_deal``); closed once the deal is accrued.
ADD_RATE = "add_rate"


class IncentiveError(ServiceError):
    """A refused incentives operation (see ``prm.tenancy.errors``)."""


class NoRate(IncentiveError):
    pass


def rate_on(tenant: Tenant, currency: str, day: date) -> Decimal:
    """Base-currency units per unit of ``currency`` in force on ``day``."""
    if currency == tenant.base_currency:
        return ONE
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise NoRate(
            f"No {currency} exchange rate is in force on {day:%Y-%m-%d}: "
            f"add one (valid from that date or earlier) under Incentives > Exchange rates."
        )
    return rate


def lock_partner(partner_id: uuid.UUID) -> None:
    """Serialize ledger work on one partner until the transaction ends."""
    advisory_xact_lock(f"incentives:partner:{partner_id}")


@dataclass
class NewEntry:
    partner_id: uuid.UUID
    kind: str
    amount: Decimal
    currency: str
    fx_rate: Decimal
    source: str
    effective_date: date
    available_on: date
    description: str
    idempotency_key: str
    created_via: str
    period_start: date | None = None
    amount_base: Decimal | None = None
    registration_id: uuid.UUID | None = None
    plan_version_id: uuid.UUID | None = None
    dispute_id: uuid.UUID | None = None
    payout_run_id: uuid.UUID | None = None
    reverses_id: uuid.UUID | None = None
    basis_amount: Decimal | None = None
    basis_currency: str = ""
    created_by: User | None = None


def statement_start(tenant: Tenant, day: date) -> date:
    period = IncentiveSettings.for_tenant(tenant).statement_period
    return periods.period_start(day, period)


def write(
    tenant: Tenant,
    new: NewEntry,
    *,
    now: datetime | None = None,
    settings: IncentiveSettings | None = None,
    look_first: bool = True,
) -> LedgerEntry:
    """Add one entry, rounded by the rule of ``money``; if an entry with the
    same idempotency key exists, return that one instead.

    ``settings``: the tenant's, when the caller has them (the statement
    period). ``look_first=False`` skips the look for an existing entry
    before the insert, for a caller that has just read the entries the key
    could belong to under the partner's lock: the insert still keeps an
    entry written meanwhile (by a bulk run) and returns it."""
    now = now or timezone.now()
    if look_first:
        existing = LedgerEntry.objects.filter(idempotency_key=new.idempotency_key).first()
        if existing is not None:
            return existing
    period = (settings or IncentiveSettings.for_tenant(tenant)).statement_period
    booked = periods.period_start(tenant.local_today(now), period)
    amount = round_money(new.amount, new.currency)
    amount_base = (
        to_base(amount, new.fx_rate, tenant.base_currency)
        if new.amount_base is None
        else round_money(new.amount_base, tenant.base_currency)
    )
    entry = LedgerEntry(
        tenant=tenant,
        partner_id=new.partner_id,
        kind=new.kind,
        amount=amount,
        currency=new.currency,
        fx_rate=new.fx_rate,
        amount_base=amount_base,
        base_currency=tenant.base_currency,
        source=new.source,
        registration_id=new.registration_id,
        plan_version_id=new.plan_version_id,
        dispute_id=new.dispute_id,
        payout_run_id=new.payout_run_id,
        reverses_id=new.reverses_id,
        basis_amount=new.basis_amount,
        basis_currency=new.basis_currency,
        period_start=new.period_start or new.effective_date,
        statement_start=booked,
        effective_date=new.effective_date,
        available_on=new.available_on,
        description=new.description[:300],
        created_by=new.created_by,
        created_via=new.created_via,
        created_at=now,
        idempotency_key=new.idempotency_key,
    )
    entry.checksum = entry.compute_checksum()
    # ON CONFLICT DO NOTHING: a concurrent writer of the same key wins
    # quietly; we then return its row.
    LedgerEntry.objects.bulk_create([entry], ignore_conflicts=True)
    return LedgerEntry.objects.get(idempotency_key=new.idempotency_key)


# --- Which versions apply -------------------------------------------------------------


def _linked(field: str, column: str) -> ArraySubquery:
    """The ids a version's many-to-many ``field`` links it to, as an array."""
    # The descriptor's ``through`` is the field's (``remote_field.through``).
    through = getattr(PlanVersion, field).through
    return ArraySubquery(through.objects.filter(planversion_id=OuterRef("pk")).values(column))


def _versions(tenant: Tenant, kinds: list[str]) -> list[PlanVersion]:
    """The published versions of the tenant's active plans of ``kinds``,
    with their brackets and, as id arrays in the same query, what they are
    limited to (``eligibility``)."""
    return list(
        PlanVersion.objects.filter(
            status=PlanVersion.Status.PUBLISHED, plan__is_active=True, plan__kind__in=kinds
        )
        .select_related("plan")
        .prefetch_related("brackets")
        .annotate(
            tier_ids=_linked("tiers", "tier_id"),
            region_ids=_linked("regions", "region_id"),
            product_line_ids=_linked("product_lines", "productline_id"),
        )
    )


def eligibility(
    version: PlanVersion,
) -> tuple[set[uuid.UUID], set[uuid.UUID], set[uuid.UUID]]:
    """The ids of the tiers, regions and product lines ``version`` is
    limited to (empty: any): from ``_versions``' arrays, else queried."""
    found = []
    for name, field in (
        ("tier_ids", "tiers"),
        ("region_ids", "regions"),
        ("product_line_ids", "product_lines"),
    ):
        ids = getattr(version, name, None)
        found.append(set(ids) if ids is not None else {o.pk for o in getattr(version, field).all()})
    return found[0], found[1], found[2]


def partner_eligible(version: PlanVersion, partner: Partner, *, tier_id: uuid.UUID | None) -> bool:
    """Whether ``partner`` qualifies for ``version`` holding ``tier_id``: the
    tier it held on the day that matters (``tier_day``), not ``partner.tier``."""
    tiers, regions, _ = eligibility(version)
    return (
        (not tiers or tier_id in tiers)
        and (not version.partner_types or partner.partner_type in version.partner_types)
        and (not regions or partner.region_id in regions)
    )


def products_eligible(version: PlanVersion, product_ids: set[uuid.UUID]) -> bool:
    _, _, wanted = eligibility(version)
    return not wanted or bool(wanted & product_ids)


def deal_versions(
    registration: DealRegistration, versions: list[PlanVersion] | None = None
) -> list[PlanVersion]:
    """Published versions of active commission and SPIFF plans that cover
    the deal's close date and for which partner (in the tier it held on the
    close date) and products qualify."""
    if registration.won_close_date is None:
        return []
    if versions is None:
        versions = _versions(registration.tenant, [Plan.Kind.COMMISSION, Plan.Kind.SPIFF])
    # The products sync_deal read with the registration, when it did.
    products = getattr(registration, "product_line_ids", None)
    if products is None:
        products = [p.pk for p in registration.product_lines.all()]
    products = set(products)
    tier_id = partner_tiers.tier_id_on(registration.partner, registration.won_close_date)
    return [
        v
        for v in versions
        if v.covers(registration.won_close_date)
        and partner_eligible(v, registration.partner, tier_id=tier_id)
        and products_eligible(v, products)
    ]


# --- Deals ----------------------------------------------------------------------------


def _period_totals(
    version: PlanVersion, partner_id: uuid.UUID, start: date, exclude_registration: uuid.UUID
) -> tuple[Decimal, Decimal]:
    """The partner's attainment (won volume, base) and what ``version``
    accrued in the rule period beginning ``start``, leaving out one deal."""
    entries = LedgerEntry.objects.filter(
        plan_version=version, partner_id=partner_id, period_start=start
    ).exclude(registration_id=exclude_registration)
    accrued = entries.aggregate(total=Sum("amount_base"))["total"] or ZERO
    # Attainment: the current won volume of the deals this version paid on.
    deal_ids = entries.filter(kind=Kind.ACCRUAL).values("registration_id")
    volume = ZERO
    for amount, currency, close in DealRegistration.objects.filter(
        pk__in=deal_ids, status=DealRegistration.Status.WON
    ).values_list("won_amount", "won_currency", "won_close_date"):
        # A won deal has both: recording or correcting a win sets them
        # (dealreg.protection).
        assert amount is not None and close is not None
        volume += amount * rate_on(version.tenant, currency, close)
    return volume, accrued


def _deal_description(version: PlanVersion, registration: DealRegistration, what: str) -> str:
    return (
        f"{what}: {version.plan.name} v{version.number} "
        f"on {registration.code} {registration.customer_name}"
    )


def sync_deal(
    registration: DealRegistration, *, now: datetime | None = None, via: str = "sync_deal"
) -> list[LedgerEntry]:
    """Bring the entries of one registration in line with its outcome.

    Won and not yet accrued: an accrual per applicable plan version. Won
    amount (or close date) corrected: an adjustment for the difference.
    No longer won (cancelled, refunded): a clawback reversing exactly what
    was accrued. Already in line: nothing (so running this twice, or in two
    workers at once, writes each entry once). Raises ``NoRate`` when a rate
    is missing; nothing is written then."""
    now = now or timezone.now()
    tenant = registration.tenant
    written: list[LedgerEntry] = []
    with transaction.atomic():
        lock_partner(registration.partner_id)
        through = DealRegistration.product_lines.through
        registration = (
            DealRegistration.objects.select_related("partner", "tenant")
            .annotate(
                product_line_ids=ArraySubquery(
                    through.objects.filter(dealregistration_id=OuterRef("pk")).values(
                        "productline_id"
                    )
                )
            )
            .get(pk=registration.pk)
        )
        settings = IncentiveSettings.for_tenant(tenant)
        won = registration.status == DealRegistration.Status.WON
        applicable = deal_versions(registration) if won else []
        existing = list(
            LedgerEntry.objects.filter(registration=registration)
            .select_related("plan_version__plan")
            .order_by("created_at", "id")
        )
        by_version: dict[uuid.UUID | None, list[LedgerEntry]] = {}
        for entry in existing:
            by_version.setdefault(entry.plan_version_id, []).append(entry)
        versions = {v.pk: v for v in applicable}
        for entry in existing:
            # A registration's entries are all written here, each for a version.
            assert entry.plan_version_id is not None
            versions.setdefault(entry.plan_version_id, cast(PlanVersion, entry.plan_version))
        for version in versions.values():
            entries = by_version.get(version.pk, [])
            synced = _sync_deal_version(
                registration, version, entries, won and version in applicable, settings, now, via
            )
            if synced is not None:
                written.append(synced)
        _set_state(registration, synced_at=now, problem="")
        # Finance was asked to add the rate it waited for: done.
        finish_tasks(registration, ADD_RATE, now=now)
    return written


def _set_state(registration: DealRegistration, *, synced_at: datetime | None, problem: str) -> None:
    """Record the registration's accrual state: one INSERT ... ON CONFLICT
    (registration) DO UPDATE."""
    DealAccrualState.objects.bulk_create(
        [
            DealAccrualState(
                tenant=registration.tenant,
                registration=registration,
                synced_at=synced_at,
                problem=problem[:300],
            )
        ],
        update_conflicts=True,
        unique_fields=["registration"],
        update_fields=["synced_at", "problem"],
    )


def _sync_deal_version(
    registration: DealRegistration,
    version: PlanVersion,
    entries: list[LedgerEntry],
    applies: bool,
    settings: IncentiveSettings,
    now: datetime,
    via: str,
) -> LedgerEntry | None:
    tenant = registration.tenant
    source = Source.SPIFF if version.plan.kind == Plan.Kind.SPIFF else Source.DEAL
    net = sum((e.amount for e in entries), ZERO)
    net_base = sum((e.amount_base for e in entries), ZERO)
    key = f"{source}:{registration.pk}:{version.pk}:{len(entries) + 1}"
    today = tenant.local_today(now)
    if not applies:
        if not entries or (net == 0 and net_base == 0):
            return None
        first = entries[0]
        return write(
            tenant,
            NewEntry(
                partner_id=registration.partner_id,
                kind=Kind.CLAWBACK,
                amount=-net,
                amount_base=-net_base,
                currency=first.currency,
                fx_rate=first.fx_rate,
                source=source,
                registration_id=registration.pk,
                plan_version_id=version.pk,
                reverses_id=first.pk,
                basis_amount=registration.won_amount,
                basis_currency=registration.won_currency or first.currency,
                period_start=first.period_start,
                effective_date=today,
                available_on=today,
                description=_deal_description(version, registration, "Clawback")
                + f" ({registration.get_status_display().lower()})",
                idempotency_key=key,
                created_via=via,
            ),
            now=now,
            settings=settings,
            look_first=False,
        )
    amount = registration.won_amount
    currency = registration.won_currency or registration.currency
    close = registration.won_close_date
    # ``applies`` only for a won deal, and recording or correcting a win
    # sets both (dealreg.protection).
    assert amount is not None and close is not None
    if entries:
        latest = entries[-1]
        if (
            latest.basis_amount == amount
            and latest.basis_currency == currency
            and latest.effective_date == close
            and net != 0
        ):
            return None  # in line with the deal as it stands
    rate = rate_on(tenant, currency, close)
    start = periods.period_start(close, version.period)
    rule = Rule.of(version)
    attainment = accrued = ZERO
    if rule.order_dependent:  # only then do the period's totals count
        attainment, accrued = _period_totals(
            version, registration.partner_id, start, registration.pk
        )
    target = round_money(
        deal_commission(
            rule,
            amount,
            rate=rate,
            attainment_before=attainment,
            accrued_in_period=accrued,
        ),
        currency,
    )
    delta = target - net if entries and entries[0].currency == currency else None
    if delta is None and entries:
        # The deal's currency changed: reverse what stands, accrue anew.
        write(
            tenant,
            NewEntry(
                partner_id=registration.partner_id,
                kind=Kind.ADJUSTMENT,
                amount=-net,
                amount_base=-net_base,
                currency=entries[0].currency,
                fx_rate=entries[0].fx_rate,
                source=source,
                registration_id=registration.pk,
                plan_version_id=version.pk,
                reverses_id=entries[0].pk,
                basis_amount=amount,
                basis_currency=currency,
                period_start=entries[0].period_start,
                effective_date=today,
                available_on=today,
                description=_deal_description(version, registration, "Currency corrected"),
                idempotency_key=key,
                created_via=via,
            ),
            now=now,
            settings=settings,
            look_first=False,
        )
        key = f"{source}:{registration.pk}:{version.pk}:{len(entries) + 2}"
        delta = target
    if not entries:
        if target <= 0:
            return None
        kind, delta, what = Kind.ACCRUAL, target, "Accrual"
    else:
        # A zero difference still gets its (zero) entry: it records the new
        # basis, so the next sync sees the deal in line.
        kind, what = Kind.ADJUSTMENT, "Deal corrected"
    # Set above on every path that gets here (target, or target - net).
    assert delta is not None
    # Money owed waits out the holding period after close; money taken back
    # counts at once.
    available = close + timedelta(days=settings.holding_days) if delta > 0 else today
    return write(
        tenant,
        NewEntry(
            partner_id=registration.partner_id,
            kind=kind,
            amount=delta,
            currency=currency,
            fx_rate=rate,
            source=source,
            registration_id=registration.pk,
            plan_version_id=version.pk,
            basis_amount=amount,
            basis_currency=currency,
            period_start=start,
            effective_date=close,
            available_on=available,
            description=_deal_description(version, registration, what),
            idempotency_key=key,
            created_via=via,
        ),
        now=now,
        settings=settings,
        look_first=False,
    )


def record_problem(
    registration: DealRegistration, problem: str, now: datetime | None = None
) -> None:
    _set_state(registration, synced_at=None, problem=problem)


def registrations_to_sync(tenant: Tenant) -> QuerySet[DealRegistration]:
    """Registrations whose entries may not match their outcome: won (or
    reversed after a win) and changed since their last sync, or never
    synced."""
    touched = Q(status=DealRegistration.Status.WON) | Q(won_amount__isnull=False)
    return (
        DealRegistration.objects.filter(touched)
        .filter(
            Q(accrual_state__isnull=True)
            | Q(accrual_state__synced_at__isnull=True)
            | Q(updated_at__gt=F("accrual_state__synced_at"))
        )
        .order_by("updated_at")
    )
