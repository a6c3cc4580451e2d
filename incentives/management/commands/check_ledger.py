"""``manage.py check_ledger [--tenant SLUG]``: prove the ledger's invariants.

For every tenant (or the one named):

1. **No entry changed.** Each entry's stored checksum equals the checksum of
   what it says now (``LedgerEntry.compute_checksum``), and its base amount
   is its amount at its exchange rate under the rounding rule of
   ``incentives.money`` (``to_base``). The exceptions to the second rule are
   the entries whose base amount is not computed from their own rate:
   reversals (``reverses`` set: they copy the negated base amount of what
   they reverse) and entries of rebate periods and payout runs (written in
   the base currency directly).
2. **Statements add up.** Every issued statement equals the sums of the
   entries booked in its period (``statement_start`` within it) per kind,
   its opening the sum of the partner's earlier entries, its closing the
   opening plus the period, its line count the number of entries.
3. **Payouts pay what was payable.** Every payout entry equals the sum of
   the entries it settles (besides itself), settles itself, is positive and
   at least its run's minimum; each settled entry belongs to the payout's
   partner and run and was available by the run's cutoff; a partner gets at
   most one payout per run; each payout line shows its payout's amount.
4. **What the database guarantees is there.** The append-only and
   frozen-version triggers (migration 0002) exist and are enabled, and every
   constraint of the incentives models exists as declared: each composite
   foreign key on ``(tenant_id, id)`` with its exact definition and
   validated, each unique (including the ``(tenant_id, id)`` keys the
   foreign keys refer to, in other apps too) and check constraint by name
   and kind. Each one missing, disabled or different is listed.

Every check is one SQL query per tenant over the whole ledger (checksums are
recomputed in PostgreSQL, and an entry it flags is confirmed in Python, the
reference), so a million entries take seconds. Each difference is printed on
its own line (tenant, partner, what, expected, found), then a summary; the
command exits 1 if there is any difference, 0 otherwise.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models
from django_scopes import scopes_disabled

from incentives.models import LedgerEntry
from incentives.money import minor_digits
from partners.models import Partner
from prm import format as fmt
from prm.tenancy.constraints import TenantForeignKey
from prm.tenancy.models import Tenant

TRIGGER = "incentives_ledger_append_only"
# The triggers the ledger relies on (migration 0002): (table, trigger).
TRIGGERS = (
    ("incentives_ledgerentry", TRIGGER),
    ("incentives_planversion", "incentives_version_rule_frozen"),
    ("incentives_planversion", "incentives_version_delete_frozen"),
    ("incentives_bracket", "incentives_bracket_frozen"),
    ("incentives_planversion_tiers", "incentives_version_tiers_frozen"),
    ("incentives_planversion_regions", "incentives_version_regions_frozen"),
    ("incentives_planversion_product_lines", "incentives_version_products_frozen"),
)
# Reported entries per check and tenant: past this the ledger is broken
# wholesale and more lines help nobody.
MAX_PER_CHECK = 1000


@dataclass(frozen=True)
class Difference:
    tenant: str
    partner_id: object
    what: str
    expected: object
    found: object


def _rows(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- 1. Entries ---------------------------------------------------------------------

# The same text ``entry_checksum`` hashes: fields joined by "|", decimals
# without trailing zeros (trim_scale), NULL as the empty string.
_CHECKSUM_SQL = """
SELECT e.id
  FROM incentives_ledgerentry e
 WHERE e.tenant_id = %(tenant)s
   AND e.checksum <> encode(sha256(convert_to(
           e.tenant_id::text || '|' || e.partner_id::text || '|' || e.kind || '|'
           || trim_scale(e.amount)::text || '|' || e.currency || '|'
           || trim_scale(e.fx_rate)::text || '|' || trim_scale(e.amount_base)::text || '|'
           || e.source || '|' || coalesce(e.registration_id::text, '') || '|'
           || coalesce(e.plan_version_id::text, '') || '|' || e.effective_date::text || '|'
           || e.available_on::text || '|' || e.idempotency_key,
       'UTF8')), 'hex')
 LIMIT %(limit)s
"""

_BASE_AMOUNT_SQL = """
SELECT id, partner_id, round(amount * fx_rate, %(digits)s), amount_base
  FROM incentives_ledgerentry
 WHERE tenant_id = %(tenant)s AND base_currency = %(currency)s
   AND reverses_id IS NULL AND source NOT IN ('rebate', 'payout_run')
   AND amount_base <> round(amount * fx_rate, %(digits)s)
 LIMIT %(limit)s
"""


def check_entries(tenant: Tenant) -> list[Difference]:
    found = []
    params = {"tenant": tenant.pk, "limit": MAX_PER_CHECK}
    flagged = [row[0] for row in _rows(_CHECKSUM_SQL, params)]
    if flagged:
        # PostgreSQL's recomputation is a fast filter; Python's is the rule.
        for entry in LedgerEntry.objects.filter(pk__in=flagged).order_by("pk"):
            recomputed = entry.compute_checksum()
            if recomputed != entry.checksum:
                found.append(
                    Difference(
                        tenant.slug,
                        entry.partner_id,
                        f"entry {entry.pk}: checksum (the entry was changed after it was written)",
                        entry.checksum,
                        recomputed,
                    )
                )
    currencies = (
        LedgerEntry.objects.filter(tenant=tenant)
        .order_by()
        .values_list("base_currency", flat=True)
        .distinct()
    )
    for currency in list(currencies):
        for entry_id, partner_id, expected, stored in _rows(
            _BASE_AMOUNT_SQL, {**params, "currency": currency, "digits": minor_digits(currency)}
        ):
            found.append(
                Difference(
                    tenant.slug,
                    partner_id,
                    f"entry {entry_id}: amount_base (amount at the exchange rate, rounded)",
                    expected,
                    stored,
                )
            )
    return found


# --- 2. Statements ------------------------------------------------------------------

_STATEMENT_FIELDS = (
    "opening",
    "accruals",
    "adjustments",
    "clawbacks",
    "reimbursements",
    "payouts",
    "closing",
)
_STATEMENTS_SQL = """
WITH e AS (
    SELECT partner_id, statement_start AS start,
           SUM(amount_base) AS total,
           SUM(amount_base) FILTER (WHERE kind = 'accrual') AS accruals,
           SUM(amount_base) FILTER (WHERE kind = 'adjustment') AS adjustments,
           SUM(amount_base) FILTER (WHERE kind = 'clawback') AS clawbacks,
           SUM(amount_base) FILTER (WHERE kind = 'reimbursement') AS reimbursements,
           SUM(amount_base) FILTER (WHERE kind = 'payout') AS payouts,
           COUNT(*) AS n
      FROM incentives_ledgerentry
     WHERE tenant_id = %(tenant)s
     GROUP BY partner_id, statement_start
), x AS (
    SELECT s.id, s.partner_id, s.period_start,
           s.opening, s.accruals, s.adjustments, s.clawbacks, s.reimbursements, s.payouts,
           s.closing, s.line_count,
           COALESCE(SUM(e.total) FILTER (WHERE e.start < s.period_start), 0) AS x_opening,
           COALESCE(SUM(e.accruals) FILTER (WHERE e.start >= s.period_start), 0) AS x_accruals,
           COALESCE(SUM(e.adjustments) FILTER (WHERE e.start >= s.period_start), 0)
               AS x_adjustments,
           COALESCE(SUM(e.clawbacks) FILTER (WHERE e.start >= s.period_start), 0) AS x_clawbacks,
           COALESCE(SUM(e.reimbursements) FILTER (WHERE e.start >= s.period_start), 0)
               AS x_reimbursements,
           COALESCE(SUM(e.payouts) FILTER (WHERE e.start >= s.period_start), 0) AS x_payouts,
           COALESCE(SUM(e.n) FILTER (WHERE e.start >= s.period_start), 0) AS x_lines
      FROM incentives_statement s
      LEFT JOIN e ON e.partner_id = s.partner_id AND e.start <= s.period_end
     WHERE s.tenant_id = %(tenant)s
     GROUP BY s.id
)
SELECT id, partner_id, period_start,
       opening, accruals, adjustments, clawbacks, reimbursements, payouts, closing, line_count,
       x_opening, x_accruals, x_adjustments, x_clawbacks, x_reimbursements, x_payouts,
       x_opening + x_accruals + x_adjustments + x_clawbacks + x_reimbursements + x_payouts
           AS x_closing, x_lines
  FROM x
 WHERE opening <> x_opening OR accruals <> x_accruals OR adjustments <> x_adjustments
    OR clawbacks <> x_clawbacks OR reimbursements <> x_reimbursements
    OR payouts <> x_payouts OR line_count <> x_lines
    OR closing <> x_opening + x_accruals + x_adjustments + x_clawbacks + x_reimbursements
                  + x_payouts
 LIMIT %(limit)s
"""


def check_statements(tenant: Tenant) -> list[Difference]:
    found = []
    for row in _rows(_STATEMENTS_SQL, {"tenant": tenant.pk, "limit": MAX_PER_CHECK}):
        statement_id, partner_id, start = row[:3]
        stored, expected = row[3:11], row[11:19]
        names = (*_STATEMENT_FIELDS, "line_count")
        for name, have, want in zip(names, stored, expected, strict=True):
            if have != want:
                found.append(
                    Difference(
                        tenant.slug,
                        partner_id,
                        f"statement {start:%Y-%m-%d} ({statement_id}): {name}",
                        want,
                        have,
                    )
                )
    return found


# --- 3. Payouts ---------------------------------------------------------------------

_PAYOUT_AMOUNT_SQL = """
SELECT p.id, p.partner_id, COALESCE(SUM(e.amount_base) FILTER (WHERE e.id <> p.id), 0),
       -p.amount_base
  FROM incentives_ledgerentry p
  LEFT JOIN incentives_settlement s ON s.payout_id = p.id
  LEFT JOIN incentives_ledgerentry e ON e.id = s.entry_id
 WHERE p.tenant_id = %(tenant)s AND p.kind = 'payout'
 GROUP BY p.id
HAVING -p.amount_base <> COALESCE(SUM(e.amount_base) FILTER (WHERE e.id <> p.id), 0)
 LIMIT %(limit)s
"""

_PAYOUT_SELF_SQL = """
SELECT p.id, p.partner_id
  FROM incentives_ledgerentry p
 WHERE p.tenant_id = %(tenant)s AND p.kind = 'payout'
   AND NOT EXISTS (
       SELECT 1 FROM incentives_settlement s WHERE s.entry_id = p.id AND s.payout_id = p.id
   )
 LIMIT %(limit)s
"""

_PAYOUT_RUN_SQL = """
SELECT p.id, p.partner_id, r.reference, r.minimum_payout, p.amount_base
  FROM incentives_ledgerentry p
  LEFT JOIN incentives_payoutrun r ON r.id = p.payout_run_id
 WHERE p.tenant_id = %(tenant)s AND p.kind = 'payout'
   AND (r.id IS NULL OR p.amount_base >= 0 OR -p.amount_base < r.minimum_payout)
 LIMIT %(limit)s
"""

_SETTLED_SQL = """
SELECT e.id, p.id, p.partner_id, e.partner_id, s.partner_id, p.kind,
       p.payout_run_id, s.run_id, r.reference, r.cutoff, e.available_on
  FROM incentives_settlement s
  JOIN incentives_ledgerentry e ON e.id = s.entry_id
  JOIN incentives_ledgerentry p ON p.id = s.payout_id
  JOIN incentives_payoutrun r ON r.id = s.run_id
 WHERE s.tenant_id = %(tenant)s
   AND (e.partner_id <> p.partner_id OR s.partner_id <> p.partner_id OR p.kind <> 'payout'
        OR p.payout_run_id IS DISTINCT FROM s.run_id
        OR (e.id <> p.id AND e.available_on > r.cutoff))
 LIMIT %(limit)s
"""

_ONE_PER_RUN_SQL = """
SELECT p.partner_id, r.reference, COUNT(*)
  FROM incentives_ledgerentry p
  JOIN incentives_payoutrun r ON r.id = p.payout_run_id
 WHERE p.tenant_id = %(tenant)s AND p.kind = 'payout'
 GROUP BY p.partner_id, r.reference
HAVING COUNT(*) > 1
 LIMIT %(limit)s
"""

_LINES_SQL = """
SELECT l.partner_id, r.reference, p.id, -p.amount_base, l.payable, p.partner_id
  FROM incentives_payoutline l
  JOIN incentives_payoutrun r ON r.id = l.run_id
  JOIN incentives_ledgerentry p ON p.id = l.payout_entry_id
 WHERE l.tenant_id = %(tenant)s
   AND (l.payable <> -p.amount_base OR l.partner_id <> p.partner_id
        OR p.payout_run_id IS DISTINCT FROM l.run_id)
 LIMIT %(limit)s
"""


def check_payouts(tenant: Tenant) -> list[Difference]:
    t, params = tenant.slug, {"tenant": tenant.pk, "limit": MAX_PER_CHECK}
    found = [
        Difference(t, partner, f"payout {pk}: paid vs the entries it settles", settled, paid)
        for pk, partner, settled, paid in _rows(_PAYOUT_AMOUNT_SQL, params)
    ]
    found += [
        Difference(t, partner, f"payout {pk}: settles itself", "yes", "no")
        for pk, partner in _rows(_PAYOUT_SELF_SQL, params)
    ]
    for pk, partner, reference, minimum, amount in _rows(_PAYOUT_RUN_SQL, params):
        if reference is None:
            found.append(Difference(t, partner, f"payout {pk}: payout run", "a run", "none"))
        else:
            found.append(
                Difference(
                    t,
                    partner,
                    f"payout {pk} ({reference}): amount paid",
                    f"at least the minimum {minimum}",
                    -amount,
                )
            )
    for row in _rows(_SETTLED_SQL, params):
        entry, payout, partner, entry_partner, settled_partner, kind = row[:6]
        payout_run, settled_run, reference, cutoff, available_on = row[6:]
        what = f"entry {entry} settled by {payout} ({reference})"
        if kind != LedgerEntry.Kind.PAYOUT:
            found.append(Difference(t, partner, f"{what}: settling entry kind", "payout", kind))
        if entry_partner != partner:
            found.append(Difference(t, partner, f"{what}: entry's partner", partner, entry_partner))
        if settled_partner != partner:
            found.append(
                Difference(t, partner, f"{what}: settlement's partner", partner, settled_partner)
            )
        if payout_run != settled_run:
            found.append(Difference(t, partner, f"{what}: run", settled_run, payout_run))
        if entry != payout and available_on > cutoff:
            found.append(
                Difference(
                    t, partner, f"{what}: available on", f"by the cutoff {cutoff}", available_on
                )
            )
    found += [
        Difference(t, partner, f"payouts in {reference}", 1, count)
        for partner, reference, count in _rows(_ONE_PER_RUN_SQL, params)
    ]
    found += [
        Difference(t, partner, f"{reference} line of payout {payout}: payable", paid, payable)
        for partner, reference, payout, paid, payable, _ in _rows(_LINES_SQL, params)
    ]
    return found


# --- 4. The triggers and constraints ---------------------------------------------------


def check_triggers() -> list[Difference]:
    found = []
    present = {
        (table, name): enabled
        for table, name, enabled in _rows(
            "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname = ANY(%s) AND NOT t.tgisinternal",
            [sorted({table for table, _ in TRIGGERS})],
        )
    }
    for table, name in TRIGGERS:
        enabled = present.get((table, name))
        if enabled is None:
            found.append(Difference("*", None, f"trigger {name} on {table}", "present", "missing"))
        elif enabled == "D":
            found.append(Difference("*", None, f"trigger {name}", "enabled", "disabled"))
    return found


def _reference(
    model: type[models.Model], constraint: TenantForeignKey
) -> tuple["models.ForeignKey[Any, Any]", type[models.Model]]:
    """The foreign key a composite key stands for, and the model it points at."""
    field = model._meta.get_field(constraint.field)
    # A TenantForeignKey is declared on a ForeignKey (its SQL refuses any
    # other field), whose target the loaded apps have resolved to a model.
    assert isinstance(field, models.ForeignKey) and isinstance(field.related_model, type)
    return field, field.related_model


def _foreign_key_sql(model: type[models.Model], constraint: TenantForeignKey) -> str:
    """The definition PostgreSQL gives back (``pg_get_constraintdef``)."""
    field, target = _reference(model, constraint)
    return (
        f"FOREIGN KEY (tenant_id, {field.column}) REFERENCES {target._meta.db_table}"
        f"(tenant_id, {target._meta.pk.column}) DEFERRABLE INITIALLY DEFERRED"
    )


def expected_constraints() -> dict[tuple[str, str], tuple[str, str | None]]:
    """(table, name) -> (kind as in pg_constraint.contype, definition or
    None) for every constraint of the incentives models, and the
    ``(tenant_id, id)`` keys their composite foreign keys refer to."""
    expected: dict[tuple[str, str], tuple[str, str | None]] = {}
    kinds = {models.CheckConstraint: "c", models.UniqueConstraint: "u", TenantForeignKey: "f"}
    for model in apps.get_app_config("incentives").get_models():
        for constraint in model._meta.constraints:
            kind = kinds[type(constraint)]
            if isinstance(constraint, models.UniqueConstraint) and (
                constraint.condition is not None or constraint.expressions
            ):
                kind = "i"  # a partial or expression unique is an index, not a constraint
            definition: str | None = None
            if isinstance(constraint, TenantForeignKey):  # kind "f"
                definition = _foreign_key_sql(model, constraint)
                _, target = _reference(model, constraint)
                for key in target._meta.constraints:
                    if isinstance(key, models.UniqueConstraint) and key.fields == (
                        "tenant",
                        "id",
                    ):
                        expected[(target._meta.db_table, key.name)] = ("u", None)
            expected[(model._meta.db_table, constraint.name)] = (kind, definition)
    return expected


def check_constraints() -> list[Difference]:
    expected = expected_constraints()
    present = {
        (table, name): (kind, definition, validated)
        for table, name, kind, definition, validated in _rows(
            "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE c.relname = ANY(%(tables)s) "
            "UNION ALL "
            "SELECT c.relname, i.relname, 'i', NULL, x.indisvalid FROM pg_index x "
            "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE c.relname = ANY(%(tables)s) AND x.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
            {"tables": sorted({table for table, _ in expected})},
        )
    }
    found = []
    for (table, name), (kind, definition) in sorted(expected.items()):
        what = f"constraint {name} on {table}"
        have = present.get((table, name))
        if have is None or have[0] != kind:
            found.append(Difference("*", None, what, "present", "missing"))
        elif not have[2]:
            found.append(Difference("*", None, what, "validated", "not valid"))
        elif definition is not None and have[1] != definition:
            found.append(Difference("*", None, what, definition, have[1]))
    return found


def _in_order(difference: Difference) -> tuple:
    return (str(difference.partner_id), difference.what)


def _counts(tenant: Tenant) -> tuple[int, int, int]:
    (row,) = _rows(
        """
        SELECT (SELECT COUNT(*) FROM incentives_ledgerentry WHERE tenant_id = %(t)s),
               (SELECT COUNT(*) FROM incentives_statement WHERE tenant_id = %(t)s),
               (SELECT COUNT(*) FROM incentives_ledgerentry
                 WHERE tenant_id = %(t)s AND kind = 'payout')
        """,
        {"t": tenant.pk},
    )
    return row


class Command(BaseCommand):
    help = (
        "Verify the incentives ledger: unchanged entries, statements that add up, payouts "
        "equal to what was payable, the triggers and constraints it relies on. Exits 1 on any "
        "difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Check this tenant only.")

    def handle(self, *args: Any, tenant: str | None = None, **options: Any) -> None:
        started = time.monotonic()
        with scopes_disabled():
            chosen = Tenant.objects.order_by("slug")
            if tenant:
                chosen = chosen.filter(slug=tenant)
            tenants = list(chosen)
            if tenant and not tenants:
                raise CommandError(f"No tenant with the slug “{tenant}”.")
            differences = check_triggers() + check_constraints()
            totals, capped = [0, 0, 0], False
            for current in tenants:
                for check in (check_entries, check_statements, check_payouts):
                    found = check(current)
                    capped = capped or len(found) >= MAX_PER_CHECK
                    differences += sorted(found, key=_in_order)
                totals = [a + b for a, b in zip(totals, _counts(current), strict=True)]
            names: dict[object, str] = dict(
                Partner.objects.filter(
                    pk__in={d.partner_id for d in differences if d.partner_id}
                ).values_list("pk", "name")
            )
        for d in differences:
            partner = names.get(d.partner_id, d.partner_id or "-")
            self.stdout.write(
                f"{d.tenant}\t{partner}\t{d.what}\texpected {d.expected}\tfound {d.found}"
            )
        entries, statements, payouts = totals
        summary = (
            f"check_ledger: {fmt.plural(len(tenants), 'tenant')}, "
            f"{fmt.plural(entries, 'entry,entries')}, {statements} "
            f"statements, {payouts} payouts checked in {time.monotonic() - started:.1f} s: "
        )
        if differences:
            more = f" (at most {MAX_PER_CHECK} listed per check and tenant)" if capped else ""
            raise CommandError(summary + f"{fmt.plural(len(differences), 'difference')}{more}.")
        self.stdout.write(summary + "no differences.")
