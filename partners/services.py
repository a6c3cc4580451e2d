"""Business operations on the partner directory."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_countries import countries
from guardian.shortcuts import assign_perm, remove_perm

from prm.tenancy.models import MANAGE_PARTNER_PERM, Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from .models import Contact, Partner, Region, Tier
from .normalize import normalize_domain, normalize_name


class PartnerError(Exception):
    """A refused operation; ``str(error)`` is the message for the person.
    ``field`` names the form field it belongs to, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# Fields a partner is created or updated from (forms, imports, services).
PARTNER_FIELDS = (
    "name",
    "legal_name",
    "website",
    "partner_type",
    "country",
    "region",
    "tier",
    "status",
    "channel_manager",
    "phone",
    "address",
    "notes",
)


def duplicate_errors(
    tenant: Tenant, *, name: str, website: str, exclude: Partner | None = None
) -> dict[str, str]:
    """Messages, by field, naming the existing partner that a new or changed
    partner would duplicate (same normalized name or same web domain)."""
    errors: dict[str, str] = {}
    others = Partner.objects.filter(tenant=tenant)
    if exclude is not None and exclude.pk:
        others = others.exclude(pk=exclude.pk)
    normalized = normalize_name(name)
    if not normalized:
        errors["name"] = "Enter a name with at least one letter or digit."
    else:
        same_name = others.filter(normalized_name=normalized).first()
        if same_name:
            errors["name"] = (
                f"A partner with this name already exists: “{same_name.name}” "
                f"({same_name.get_status_display().lower()})."
            )
    try:
        domain = normalize_domain(website)
    except ValueError as exc:
        errors["website"] = str(exc)
    else:
        same_domain = others.filter(domain=domain).first() if domain else None
        if same_domain:
            errors["website"] = (
                f"The domain {domain} already belongs to partner “{same_domain.name}”."
            )
    return errors


def _check_channel_manager(user: User | None) -> None:
    if user is None:
        return
    if not Membership.objects.filter(user=user, role=Role.CHANNEL_MANAGER, is_active=True).exists():
        raise PartnerError(
            f"{user} is not an active channel manager of this program.", "channel_manager"
        )


def _sync_manager_permission(partner: Partner, old: User | None, new: User | None) -> None:
    perm = f"partners.{MANAGE_PARTNER_PERM}"
    if old is not None and old != new:
        remove_perm(perm, old, partner)
    if new is not None:
        assign_perm(perm, new, partner)


def _apply(partner: Partner, data: dict) -> None:
    for name in PARTNER_FIELDS:
        if name in data:
            setattr(partner, name, data[name])
    partner.normalized_name = normalize_name(partner.name)
    partner.domain = normalize_domain(partner.website)
    if partner.region is None and partner.country:
        partner.region = region_for_country(str(partner.country))


def region_for_country(country_code: str) -> Region | None:
    return Region.objects.filter(countries__contains=country_code).order_by("name").first()


def _save(partner: Partner) -> None:
    try:
        with transaction.atomic():
            partner.full_clean(exclude=["tenant", "normalized_name", "domain"])
            partner.save()
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise PartnerError(" ".join(messages), field_name) from exc
    except IntegrityError as exc:  # lost a race with an identical insert
        raise PartnerError("A partner with this name or domain was just added.") from exc


def create_partner(*, tenant: Tenant, by: User | None, data: dict) -> Partner:
    errors = duplicate_errors(tenant, name=data.get("name", ""), website=data.get("website", ""))
    if errors:
        field_name, message = next(iter(errors.items()))
        raise PartnerError(message, field_name)
    _check_channel_manager(data.get("channel_manager"))
    with transaction.atomic():
        partner = Partner(tenant=tenant)
        _apply(partner, data)
        _save(partner)
        _sync_manager_permission(partner, None, partner.channel_manager)
        audit(tenant, by=by, action="partner.created", obj=partner)
    return partner


def update_partner(partner: Partner, *, by: User | None, data: dict) -> Partner:
    errors = duplicate_errors(
        partner.tenant,
        name=data.get("name", partner.name),
        website=data.get("website", partner.website),
        exclude=partner,
    )
    if errors:
        field_name, message = next(iter(errors.items()))
        raise PartnerError(message, field_name)
    if "channel_manager" in data:
        _check_channel_manager(data["channel_manager"])
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        old_manager = locked.channel_manager
        before = {f: str(getattr(locked, f) or "") for f in PARTNER_FIELDS}
        _apply(partner, data)
        _save(partner)
        _sync_manager_permission(partner, old_manager, partner.channel_manager)
        changed = {
            f: [before[f], str(getattr(partner, f) or "")]
            for f in PARTNER_FIELDS
            if before[f] != str(getattr(partner, f) or "")
        }
        if changed:
            audit(partner.tenant, by=by, action="partner.updated", obj=partner, data=changed)
    return partner


def assign_channel_manager(partner: Partner, manager: User | None, *, by: User | None) -> Partner:
    return update_partner(partner, by=by, data={"channel_manager": manager})


# --- CSV import and export -------------------------------------------------

CSV_COLUMNS = [
    "name",
    "legal_name",
    "website",
    "type",
    "country",
    "region",
    "tier",
    "status",
    "channel_manager_email",
    "phone",
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_title",
]
REQUIRED_COLUMNS = {"name", "type", "country", "tier"}
MAX_IMPORT_ROWS = 5000


@dataclass
class ImportRow:
    line: int
    values: dict
    errors: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    contact: dict | None = None


@dataclass
class ImportResult:
    rows: list[ImportRow]
    errors: list[str]  # file-level problems
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and all(not r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(1 for r in self.rows if r.errors)


def _choice(value: str, choices, label: str) -> str:
    value = value.strip()
    for key, display in choices:
        if value.lower() in (str(key).lower(), str(display).lower()):
            return key
    allowed = ", ".join(str(k) for k, _ in choices)
    raise ValueError(f"{label} “{value}” is not one of: {allowed}.")


def _country(value: str) -> str:
    value = value.strip()
    code = countries.alpha2(value) or countries.by_name(value)
    if not code:
        raise ValueError(f"Country “{value}” is not a known country name or ISO code.")
    return code


def parse_partner_csv(tenant: Tenant, text: str) -> ImportResult:
    """Validate a partner CSV without writing anything: every row gets the
    list of its problems (against the directory and the rest of the file)."""
    result = ImportResult(rows=[], errors=[])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not headers:
        result.errors.append("The file is empty.")
        return result
    reader.fieldnames = headers
    missing = REQUIRED_COLUMNS - set(headers)
    if missing:
        result.errors.append(f"Missing required column(s): {', '.join(sorted(missing))}.")
    unknown = set(headers) - set(CSV_COLUMNS)
    if unknown:
        result.errors.append(
            f"Unknown column(s): {', '.join(sorted(unknown))}. Allowed: {', '.join(CSV_COLUMNS)}."
        )
    if result.errors:
        return result

    tiers = {t.name.lower(): t for t in Tier.objects.filter(tenant=tenant)}
    regions = {}
    for region in Region.objects.filter(tenant=tenant):
        regions[region.code.lower()] = region
        regions[region.name.lower()] = region
    managers = {
        m.user.email.lower(): m.user
        for m in Membership.objects.filter(
            role=Role.CHANNEL_MANAGER, is_active=True
        ).select_related("user")
    }
    seen_names: dict[str, int] = {}
    seen_domains: dict[str, int] = {}

    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(values.values()):
            continue
        row = ImportRow(line=number, values=values)
        result.rows.append(row)
        data: dict = {
            "name": values.get("name", ""),
            "legal_name": values.get("legal_name", ""),
            "website": values.get("website", ""),
            "phone": values.get("phone", ""),
        }
        for column, convert in (
            ("type", lambda v: _choice(v, Partner.Type.choices, "Type")),
            ("country", _country),
            ("status", lambda v: _choice(v, Partner.Status.choices, "Status")),
        ):
            if not values.get(column):
                if column in REQUIRED_COLUMNS:
                    row.errors.append(f"{column}: this column is required.")
                continue
            try:
                data["partner_type" if column == "type" else column] = convert(values[column])
            except ValueError as exc:
                row.errors.append(f"{column}: {exc}")
        tier_name = values.get("tier", "").lower()
        if not tier_name:
            row.errors.append("tier: this column is required.")
        elif tier_name not in tiers:
            row.errors.append(
                f"tier: “{values['tier']}” is not a tier of this program "
                f"({', '.join(t.name for t in tiers.values())})."
            )
        else:
            data["tier"] = tiers[tier_name]
        if values.get("region"):
            region = regions.get(values["region"].lower())
            if region is None:
                row.errors.append(f"region: “{values['region']}” is not a region code or name.")
            else:
                data["region"] = region
        if values.get("channel_manager_email"):
            manager = managers.get(values["channel_manager_email"].lower())
            if manager is None:
                row.errors.append(
                    f"channel_manager_email: {values['channel_manager_email']} is not an "
                    "active channel manager of this program."
                )
            else:
                data["channel_manager"] = manager
        for field_name, message in duplicate_errors(
            tenant, name=data["name"], website=data["website"]
        ).items():
            row.errors.append(f"{'name' if field_name == 'name' else 'website'}: {message}")
        normalized = normalize_name(data["name"])
        if normalized and normalized in seen_names:
            row.errors.append(f"name: same partner as line {seen_names[normalized]} of this file.")
        seen_names.setdefault(normalized, number)
        try:
            domain = normalize_domain(data["website"])
        except ValueError:
            domain = ""
        if domain and domain in seen_domains:
            row.errors.append(f"website: same domain as line {seen_domains[domain]} of this file.")
        if domain:
            seen_domains.setdefault(domain, number)
        if values.get("contact_email") or values.get("contact_name"):
            if not (values.get("contact_email") and values.get("contact_name")):
                row.errors.append("contact: give both contact_name and contact_email, or neither.")
            else:
                row.contact = {
                    "name": values["contact_name"],
                    "email": values["contact_email"].lower(),
                    "phone": values.get("contact_phone", ""),
                    "title": values.get("contact_title", ""),
                }
        data.setdefault("status", Partner.Status.PROSPECT)
        row.data = data
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")
    return result


def import_partners(*, tenant: Tenant, by: User | None, text: str) -> ImportResult:
    """Validate and import a partner CSV, all or nothing: if any row has a
    problem nothing is written and the result says which rows and why."""
    with transaction.atomic():
        result = parse_partner_csv(tenant, text)
        if not result.ok:
            return result
        try:
            for row in result.rows:
                partner = create_partner(tenant=tenant, by=by, data=row.data)
                if row.contact:
                    contact = Contact(
                        tenant=tenant, partner=partner, is_primary=True, **row.contact
                    )
                    contact.full_clean(exclude=["tenant", "partner"])
                    contact.save()
                result.created += 1
        except (PartnerError, ValidationError) as exc:
            transaction.set_rollback(True)
            row.errors.append(
                str(exc) if isinstance(exc, PartnerError) else "; ".join(exc.messages)
            )
            result.created = 0
            return result
        audit(
            tenant,
            by=by,
            action="partner.imported",
            obj=tenant,
            data={"created": result.created},
        )
    return result


def export_partners_csv(partners) -> str:
    """The partners as CSV in the import format (a round trip re-imports)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    partners = partners.select_related("tier", "region", "channel_manager").prefetch_related(
        "contacts"
    )
    for partner in partners:
        contact = next(iter(partner.contacts.all()), None)
        writer.writerow(
            [
                partner.name,
                partner.legal_name,
                partner.website,
                partner.partner_type,
                partner.country.code,
                partner.region.code if partner.region else "",
                partner.tier.name,
                partner.status,
                partner.channel_manager.email if partner.channel_manager else "",
                partner.phone,
                contact.name if contact else "",
                contact.email if contact else "",
                contact.phone if contact else "",
                contact.title if contact else "",
            ]
        )
    return out.getvalue()
