"""Conflict checks: does a registration claim a customer that another
partner's active registration, or the vendor's own pipeline, already has?

A match is the same normalized web domain or a customer name at least the
tenant's threshold similar (PostgreSQL pg_trgm trigram similarity on the
normalized name, served by a GIN index on ``ActiveClaim`` led by the
tenant), on at least one shared product line. Direct opportunities without
product lines match on the customer alone. Each match is stored with its
score and the reasons."""

import json
import re
import time
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, TypedDict

import psycopg
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BooleanField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone
from django_scopes import scope
from psycopg import sql as psycopg_sql

from prm.tenancy.models import Tenant

from .models import ActiveClaim, Conflict, DealRegistration, DealRegSettings, DirectOpportunity
from .workflow import DECISIONS_LOCK_SQL, decisions_lock_key

if TYPE_CHECKING:
    from django.db.models.sql.compiler import SQLCompiler

ConflictState = DealRegistration.ConflictState


def _set_threshold(threshold: Decimal) -> None:
    # The % operator (and so the GIN index) uses this session setting; local
    # to the transaction. (A check sets it with its lock: _lock_and_match.)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(threshold)]
        )


def _score(same_domain: bool, similarity: float) -> Decimal:
    match = 1.0 if same_domain else similarity
    return Decimal(str(match)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _reasons(
    same_domain: bool, similarity: float, shared: list[str], threshold: Decimal
) -> list[str]:
    reasons: list[str] = []
    if same_domain:
        reasons.append("same domain")
    if similarity >= float(threshold):
        reasons.append(f"name {similarity:.2f} similar")
    reasons += [f"shared product: {name}" for name in shared]
    return reasons


def _same_domain(domain: str) -> "Value | ExpressionWrapper[Q]":
    if not domain:
        return Value(False, output_field=BooleanField())
    return ExpressionWrapper(Q(customer_domain=domain), output_field=BooleanField())


MATCH_COLUMNS = ("id", "kind", "similarity", "same_domain", "shared", "filed", "state")


class _AnyOf(Lookup):
    """``value = ANY(array)``: an element of an array expression."""

    def as_sql(
        self, compiler: "SQLCompiler", connection: BaseDatabaseWrapper
    ) -> tuple[str, list[str | int]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _match_queryset(
    tenant_id: uuid.UUID, partner_id: uuid.UUID, registration_id: uuid.UUID, name: str, domain: str
) -> QuerySet[Any, dict[str, Any]]:
    """The match as an ORM query (see ``match``)."""
    reg_products = DealRegistration.product_lines.through.objects
    opp_products = DirectOpportunity.product_lines.through.objects
    # The registration's own product lines, read once per query (an array,
    # not an IN subquery the planner joins again in each of its four uses).
    own = ArraySubquery(
        reg_products.filter(dealregistration_id=registration_id).values("productline_id")
    )
    reg_shared = reg_products.filter(
        _AnyOf(F("productline_id"), own), dealregistration_id=OuterRef("pk")
    )
    opp_shared = opp_products.filter(
        _AnyOf(F("productline_id"), own), directopportunity_id=OuterRef("pk")
    )
    # Similar names are found in the narrow table of active claims (see
    # ActiveClaim), and only those few registrations are read. The tenant
    # and the name are searched together (the trigram index leads with the
    # tenant, as the open opportunities' does): the tenant is compared as a
    # column of the claims, so the prepared statement's generic plan puts
    # it in the index condition, and a check reads only its tenant's names.
    similar = ActiveClaim.objects.filter(
        tenant_id=tenant_id, customer_name_normalized__trigram_similar=name
    ).values("registration_id")

    def registrations(customer: Q) -> QuerySet[DealRegistration, dict[str, Any]]:
        return (
            DealRegistration.objects.filter(
                customer, tenant_id=tenant_id, status__in=DealRegistration.ACTIVE
            )
            .exclude(partner_id=partner_id)
            .exclude(pk=registration_id)
            .filter(Exists(reg_shared))
            .annotate(
                kind=Value("registration"),
                similarity=TrigramSimilarity("customer_name_normalized", name),
                same_domain=_same_domain(domain),
                shared=ArraySubquery(reg_shared.values("productline__name")),
                filed=F("submitted_at"),
                state=F("status"),
            )
            .order_by()
            .values(*MATCH_COLUMNS)
        )

    by_name = registrations(Q(pk__in=similar))
    # The same domain under a name not similar enough (each registration
    # once: those with a similar name came from the claims above; a claim's
    # name is its registration's, so the condition is the same).
    by_domain = (
        registrations(
            Q(customer_domain=domain) & ~Q(customer_name_normalized__trigram_similar=name)
        )
        if domain
        else None
    )
    customer = Q(customer_name_normalized__trigram_similar=name)
    if domain:
        customer |= Q(customer_domain=domain)
    opportunities = (
        DirectOpportunity.objects.filter(
            customer, tenant_id=tenant_id, stage__in=DirectOpportunity.OPEN_STAGES
        )
        .filter(
            Exists(opp_shared) | ~Exists(opp_products.filter(directopportunity_id=OuterRef("pk")))
        )
        .annotate(
            kind=Value("opportunity"),
            similarity=TrigramSimilarity("customer_name_normalized", name),
            same_domain=_same_domain(domain),
            shared=ArraySubquery(opp_shared.values("productline__name")),
            filed=Value(None, output_field=DateTimeField()),
            state=F("stage"),
        )
        .order_by()
        .values(*MATCH_COLUMNS)
    )
    parts = [by_name, opportunities] if by_domain is None else [by_name, by_domain, opportunities]
    return parts[0].union(*parts[1:], all=True)


class _Slots(TypedDict):
    tenant: uuid.UUID
    partner: uuid.UUID
    registration: uuid.UUID
    name: str
    domain: str


# Placeholders the compiled query is built with; each stands for one input.
_SLOTS: _Slots = {
    "tenant": uuid.UUID("00000000-0000-4000-8000-00000000a001"),
    "partner": uuid.UUID("00000000-0000-4000-8000-00000000a002"),
    "registration": uuid.UUID("00000000-0000-4000-8000-00000000a003"),
    "name": "\x01name\x01",
    "domain": "\x01domain\x01",
}
_compiled: dict[bool, str] = {}
_PLACEHOLDER = re.compile(r"%%|%s")

# For the transaction that runs the match: the prepared statement's generic
# plan, planned once per connection (PostgreSQL would otherwise plan it
# anew for each check, about 2 ms of every one), and none of the
# per-execution costs a plan can bring (JIT compilation, parallel workers).
_PLAN_SETTINGS = (
    "set_config('plan_cache_mode', 'force_generic_plan', true), "
    "set_config('jit', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)


def _compiled_match(with_domain: bool) -> str:
    """The ORM's SQL for the match as the text of a server-side prepared
    statement, compiled once per process (and per shape: with or without a
    domain): the inputs are the named parameters ``tenant``, ``partner``,
    ``registration``, ``name`` (and ``domain``), and the query's fixed values
    (statuses, stages, kinds) are written in as literals, so that the generic
    plan still proves the partial indexes' conditions (open stages, for
    example). Building and compiling this query costs the ORM about twice
    what PostgreSQL needs to run it; every check would pay that again for
    the same SQL."""
    if with_domain not in _compiled:
        tenant = Tenant(pk=_SLOTS["tenant"])
        with scope(tenant=tenant):
            queryset = _match_queryset(
                _SLOTS["tenant"],
                _SLOTS["partner"],
                _SLOTS["registration"],
                _SLOTS["name"],
                _SLOTS["domain"] if with_domain else "",
            )
            sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        slots = {value: key for key, value in _SLOTS.items()}
        markers = [m.group() for m in _PLACEHOLDER.finditer(sql)]
        if markers.count("%s") != len(params):
            # Only a change in how Django writes SQL can cause this; writing
            # values into the wrong placeholders would match the wrong rows.
            raise RuntimeError(
                f"Cannot prepare the conflict match: Django's SQL has "
                f"{markers.count('%s')} placeholders for {len(params)} parameters."
            )
        values = iter(params)
        connection.ensure_connection()

        def write_in(found: re.Match[str]) -> str:
            """A parameter slot as a named parameter, a fixed value as a literal."""
            if found.group() == "%%":
                return "%%"
            value = next(values)
            if _is_slot(value, slots):
                return f"%({slots[value]})s"
            return psycopg_sql.Literal(value).as_string(connection.connection)

        text = _PLACEHOLDER.sub(write_in, sql)
        _compiled[with_domain] = text
    return _compiled[with_domain]


def _is_slot(param: object, slots: dict[object, str]) -> bool:
    try:
        return param in slots
    except TypeError:  # unhashable parameters (lists) are never slots
        return False


def _match_sql(registration: DealRegistration) -> tuple[str, dict[str, uuid.UUID | str]]:
    with_domain = bool(registration.customer_domain)
    inputs: dict[str, uuid.UUID | str] = {
        "tenant": registration.tenant_id,
        "partner": registration.partner_id,
        "registration": registration.pk,
        "name": registration.customer_name_normalized,
    }
    if with_domain:
        inputs["domain"] = registration.customer_domain
    return _compiled_match(with_domain), inputs


def _fetch_match(registration: DealRegistration) -> list[dict[str, Any]]:
    """Run the match as a server-side prepared statement on the ORM's
    connection and transaction (Django's cursors bind parameters on the
    client and never prepare); recorded in ``connection.queries`` as the
    ORM's queries are when they are logged. psycopg deallocates a
    connection's prepared statements at any rollback (savepoints included):
    the next check then prepares and plans it again, once."""
    sql, params = _match_sql(registration)
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": f"-- prepared\n{sql}",
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return [dict(zip(MATCH_COLUMNS, row, strict=True)) for row in rows]


def match(registration: DealRegistration) -> list[dict[str, Any]]:
    """Who else claims this customer, in one query: other partners' active
    registrations sharing a product line, and open direct opportunities
    sharing a product line (or with none recorded), whose domain is the same
    or whose normalized name is similar enough (the % operator, with the
    threshold set by ``_set_threshold``, so the GIN index serves it).

    Rows: id, kind, similarity, same_domain, shared (product names), filed,
    state. The tenant is bound explicitly (the compiled SQL runs outside the
    ORM's scoped manager). Sets the plan settings for the rest of the
    transaction (``_PLAN_SETTINGS``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_PLAN_SETTINGS}")
    return _fetch_match(registration)


def _lock_and_match(registration: DealRegistration) -> tuple[Decimal, list[dict[str, Any]]]:
    """Take the tenant's decision lock, set the tenant's name similarity
    threshold (from its settings; the default when it has none) for the %
    operator and the plan settings, local to the transaction, in one round
    trip; then match, in a second (a prepared statement runs alone). The
    match reads what was committed while the lock was awaited. Returns the
    threshold and the match's rows."""

    field = DealRegSettings._meta.get_field("name_similarity_threshold")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {DECISIONS_LOCK_SQL}, set_config(
                'pg_trgm.similarity_threshold',
                coalesce((SELECT {field.column} FROM {DealRegSettings._meta.db_table}
                          WHERE tenant_id = %s), %s)::text,
                true), {_PLAN_SETTINGS}
            """,  # noqa: S608 (the lock and the names are the code's, not input)
            [
                decisions_lock_key(registration.tenant_id),
                registration.tenant_id,
                field.get_default(),
            ],
        )
        threshold = Decimal(cursor.fetchone()[1])
    return threshold, _fetch_match(registration)


def _conflict(
    registration: DealRegistration, row: dict[str, Any], threshold: Decimal, now: datetime
) -> Conflict:
    shared = sorted(row["shared"])
    reasons = _reasons(row["same_domain"], row["similarity"], shared, threshold)
    conflict = Conflict(
        tenant_id=registration.tenant_id,
        registration=registration,
        score=_score(row["same_domain"], row["similarity"]),
        found_at=now,
    )
    if row["kind"] == "registration":
        conflict.other_registration_id = row["id"]
        conflict.reasons = reasons
        conflict.other_filed_first = row["state"] == DealRegistration.Status.APPROVED or (
            row["filed"] is not None
            and (registration.submitted_at is None or row["filed"] < registration.submitted_at)
        )
    else:
        conflict.direct_opportunity_id = row["id"]
        conflict.reasons = ["direct opportunity", *reasons]
        conflict.other_filed_first = True
    return conflict


# Storing a check's result in one round trip (several statements in one
# execute(): client-side binding, Django's default with psycopg, sends them
# as one simple query, run in order, each seeing the one before): its
# earlier conflicts are replaced, and it and the registrations it conflicts
# with are flagged.
_STORE_FOUND = """
    DELETE FROM dealreg_conflict
    WHERE tenant_id = %(tenant)s AND registration_id = %(registration)s;
    INSERT INTO dealreg_conflict (
        id, tenant_id, registration_id, other_registration_id, direct_opportunity_id,
        score, reasons, other_filed_first, found_at)
    SELECT c.id, %(tenant)s, %(registration)s, c.other, c.opportunity,
           c.score, c.reasons, c.first, %(now)s
    FROM unnest(%(ids)s::uuid[], %(others)s::uuid[], %(opportunities)s::uuid[],
                %(scores)s::numeric[], %(reasons)s::jsonb[], %(first)s::boolean[])
         AS c(id, other, opportunity, score, reasons, first);
    UPDATE dealreg_dealregistration SET conflict_state = %(conflict)s
    WHERE tenant_id = %(tenant)s AND id = ANY(%(flagged)s) AND conflict_state <> %(conflict)s;
"""
# Nothing found: still under review if another registration's check found
# this one. Returns the state.
_STORE_NONE = """
    DELETE FROM dealreg_conflict
    WHERE tenant_id = %(tenant)s AND registration_id = %(registration)s;
    WITH found AS (
        SELECT CASE WHEN EXISTS (
            SELECT FROM dealreg_conflict
            WHERE tenant_id = %(tenant)s AND other_registration_id = %(registration)s
        ) THEN %(conflict)s ELSE %(clear)s END AS state
    ), flagged AS (
        UPDATE dealreg_dealregistration r SET conflict_state = found.state FROM found
        WHERE r.tenant_id = %(tenant)s AND r.id = %(registration)s
          AND r.conflict_state <> found.state
    )
    SELECT state FROM found;
"""


def _store(registration: DealRegistration, found: list[Conflict], now: datetime) -> str:
    """Replace the stored conflicts of ``registration`` with ``found`` and
    flag who is under review; returns the registration's conflict state."""
    params: dict[str, uuid.UUID | str] = {
        "tenant": registration.tenant_id,
        "registration": registration.pk,
        "conflict": ConflictState.CONFLICT,
        "clear": ConflictState.CLEAR,
    }
    with connection.cursor() as cursor:
        if not found:
            cursor.execute(_STORE_NONE, params)
            cursor.nextset()
            return cursor.fetchone()[0]
        cursor.execute(
            _STORE_FOUND,
            {
                **params,
                "now": now,
                "ids": [c.id for c in found],
                "others": [c.other_registration_id for c in found],
                "opportunities": [c.direct_opportunity_id for c in found],
                "scores": [c.score for c in found],
                "reasons": [json.dumps(c.reasons) for c in found],
                "first": [c.other_filed_first for c in found],
                "flagged": [registration.pk]
                + [c.other_registration_id for c in found if c.other_registration_id],
            },
        )
    for conflict in found:  # saved, as bulk_create() would leave them
        conflict._state.adding = False
        conflict._state.db = connection.alias
    return ConflictState.CONFLICT


def find_conflicts(
    registration: DealRegistration, *, now: datetime | None = None
) -> list[Conflict]:
    """Recompute and store the conflicts of ``registration``; mark it, and
    the registrations it conflicts with, as under conflict review. Two round
    trips: lock and match, then store."""
    now = now or timezone.now()
    # No savepoint of its own (two more round trips): an error here fails
    # the caller's transaction, as it fails the caller anyway.
    with transaction.atomic(savepoint=False):
        # One check (or decision) per tenant at a time: two registrations of
        # the same customer checked at once would otherwise deadlock flagging
        # each other's rows, or one could reset the other's fresh "conflict"
        # to "clear". The lock is the decisions' one, which approve() takes
        # before this (it is re-entrant).
        threshold, rows = _lock_and_match(registration)
        found = [_conflict(registration, row, threshold, now) for row in rows]
        found.sort(key=lambda c: c.score, reverse=True)
        registration.conflict_state = _store(registration, found, now)
    return found


def pending_near(tenant: Tenant, name_normalized: str, domain: str) -> list[uuid.UUID]:
    """The pending registrations a check would compare with a customer of
    this normalized name or domain (same domain, or a name at least the
    tenant's threshold similar, found through ``ActiveClaim``'s index), so
    that a change to the vendor's pipeline re-checks only those. Product
    lines are left to the check itself. Sets the threshold for the rest of
    the transaction, as a check does."""
    threshold = DealRegSettings.for_tenant(tenant).name_similarity_threshold
    _set_threshold(threshold)
    near = Q(
        pk__in=ActiveClaim.objects.filter(
            tenant=tenant, customer_name_normalized__trigram_similar=name_normalized
        ).values("registration_id")
    )
    if domain:
        near |= Q(customer_domain=domain)
    return list(
        DealRegistration.objects.filter(
            near, tenant=tenant, status__in=DealRegistration.PENDING
        ).values_list("pk", flat=True)
    )


def conflicts_of(registration: DealRegistration) -> list[dict[str, Any]]:
    """Both sides of the stored conflicts, oldest filing first, for the
    approver: [{"conflict", "other" (registration or None), "opportunity"}].
    A pair checked from both sides is listed once, with its higher score."""
    rows: list[dict[str, Any]] = []
    for conflict in Conflict.objects.filter(registration=registration).select_related(
        "other_registration__partner", "direct_opportunity"
    ):
        rows.append(
            {
                "conflict": conflict,
                "other": conflict.other_registration,
                "opportunity": conflict.direct_opportunity,
            }
        )
    for conflict in Conflict.objects.filter(other_registration=registration).select_related(
        "registration__partner"
    ):
        rows.append({"conflict": conflict, "other": conflict.registration, "opportunity": None})

    best: dict[tuple[type, Any], dict[str, Any]] = {}
    for row in rows:
        target = row["opportunity"] or row["other"]
        key = (type(target), target.pk)
        if key not in best or row["conflict"].score > best[key]["conflict"].score:
            best[key] = row

    def filed(row: dict[str, Any]) -> tuple[int, datetime]:
        if row["opportunity"] is not None:
            return (0, timezone.now())
        other = row["other"]
        return (1, other.submitted_at or other.created_at)

    return sorted(best.values(), key=filed)
