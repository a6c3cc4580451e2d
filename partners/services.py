"""Business operations on the partner directory."""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from prm import csvio
from prm import format as fmt
from prm.tenancy.errors import ServiceError
from prm.tenancy.models import MANAGE_PARTNER_PERM, Membership, Tenant, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from . import events, tiers
from .models import Contact, Partner, Region, Tier
from .normalize import normalize_domain, normalize_name


class PartnerError(ServiceError):
    """A refused partner operation (see ``prm.tenancy.errors``)."""


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


def _check_references(tenant: Tenant, data: dict[str, Any]) -> None:
    """Refuse a tier, region or channel manager that is not the tenant's own.

    Model validation cannot catch it: Django checks foreign keys through the
    unscoped base manager, where every tenant's rows exist."""
    for name in ("tier", "region"):
        value = data.get(name)
        if value is not None and value.tenant_id != tenant.pk:
            raise PartnerError(f"Choose a {name} of this program.", name)
    user = data.get("channel_manager")
    if (
        user is not None
        and not Membership.objects.filter(
            tenant=tenant, user=user, role=Role.CHANNEL_MANAGER, is_active=True
        ).exists()
    ):
        raise PartnerError(
            f"{user} is not an active channel manager of this program.", "channel_manager"
        )


def _sync_manager_permission(partner: Partner, old: User | None, new: User | None) -> None:
    perm = f"partners.{MANAGE_PARTNER_PERM}"
    if old is not None and old != new:
        remove_perm(perm, old, partner)
    if new is not None:
        assign_perm(perm, new, partner)


def _covers(region: Region | None, country_code: str) -> bool:
    return region is not None and country_code in {c.code for c in region.countries}


def _apply(partner: Partner, data: dict[str, Any]) -> None:
    """Set ``data`` on ``partner`` and derive the normalized name, the domain
    and, unless one was chosen, the region from the country.

    A region that covered the old country but not a new one was derived (or
    is now wrong either way) and follows the country; a region without that
    link (e.g. "Key accounts") stays."""
    old_country = str(partner.country or "")
    old_region = partner.region if partner.region_id else None
    for name in PARTNER_FIELDS:
        if name in data:
            setattr(partner, name, data[name])
    partner.normalized_name = normalize_name(partner.name)
    partner.domain = normalize_domain(partner.website)
    country = str(partner.country or "")
    region_chosen = "region" in data and data["region"] != old_region
    if partner.region is None or (
        not region_chosen
        and country != old_country
        and _covers(partner.region, old_country)
        and not _covers(partner.region, country)
    ):
        partner.region = region_for_country(partner.tenant, country) if country else None


def region_for_country(tenant: Tenant, country_code: str) -> Region | None:
    # Codes are two letters in a comma-separated list, so "contains" only
    # matches whole codes.
    return (
        Region.objects.filter(tenant=tenant, countries__contains=country_code)
        .order_by("name")
        .first()
    )


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


def _refuse_duplicates(
    tenant: Tenant, *, name: str, website: str, exclude: Partner | None = None
) -> None:
    errors = duplicate_errors(tenant, name=name, website=website, exclude=exclude)
    if errors:
        field_name, message = next(iter(errors.items()))
        raise PartnerError(message, field_name)


def _snapshot(partner: Partner) -> dict[str, str]:
    return {f: str(getattr(partner, f) or "") for f in PARTNER_FIELDS}


def create_partner(*, tenant: Tenant, by: User | None, data: dict[str, Any]) -> Partner:
    """Add a partner to ``tenant``'s directory. Refused (PartnerError, with
    the form field it belongs to) for a duplicate name or domain, a tier,
    region or channel manager from elsewhere, or an invalid value."""
    _refuse_duplicates(tenant, name=data.get("name", ""), website=data.get("website", ""))
    _check_references(tenant, data)
    with transaction.atomic():
        partner = Partner(tenant=tenant)
        _apply(partner, data)
        _save(partner)
        tiers.record_joined(partner, by=by)
        _sync_manager_permission(partner, None, partner.channel_manager)
        audit(tenant, by=by, action="partner.created", obj=partner)
        events.partner_created(partner)
    return partner


def update_partner(partner: Partner, *, by: User | None, data: dict[str, Any]) -> Partner:
    """Change the fields in ``data`` (keys from PARTNER_FIELDS) of ``partner``.

    The change is applied to the row as it is now in the database (locked),
    not to the caller's possibly stale copy, so fields the caller did not
    name keep their current values; ``partner`` is then refreshed to match.
    A change of channel manager moves the object permission with it."""
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk, tenant=partner.tenant_id)
        _refuse_duplicates(
            locked.tenant,
            name=data.get("name", locked.name),
            website=data.get("website", locked.website),
            exclude=locked,
        )
        _check_references(locked.tenant, data)
        old_manager = locked.channel_manager
        old_tier = locked.tier_id
        before = _snapshot(locked)
        _apply(locked, data)
        _save(locked)
        if locked.tier_id != old_tier:
            tiers.record_change(locked, old_tier, by=by, reason=tiers.Reason.MANUAL)
        _sync_manager_permission(locked, old_manager, locked.channel_manager)
        after = _snapshot(locked)
        changed = {f: [before[f], after[f]] for f in PARTNER_FIELDS if before[f] != after[f]}
        if changed:
            audit(locked.tenant, by=by, action="partner.updated", obj=locked, data=changed)
    for f in Partner._meta.concrete_fields:
        setattr(partner, f.attname, getattr(locked, f.attname))
    return partner


def assign_channel_manager(partner: Partner, manager: User | None, *, by: User | None) -> Partner:
    return update_partner(partner, by=by, data={"channel_manager": manager})


def delete_partner(partner: Partner, *, by: User | None) -> None:
    """Remove a partner with its contacts, its people's memberships and the
    channel manager's object permission on it."""
    with transaction.atomic():
        audit(partner.tenant, by=by, action="partner.deleted", obj=partner)
        UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(Partner), object_pk=str(partner.pk)
        ).delete()
        partner.delete()


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
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] | None = None


@dataclass
class ImportResult(csvio.ImportResult):
    pass


def _choice(value: str, choices: Iterable[tuple[Any, Any]], label: str) -> str:
    value = value.strip()
    for key, display in choices:
        if value.lower() in (str(key).lower(), str(display).lower()):
            return str(key)
    allowed = ", ".join(str(k) for k, _ in choices)
    raise ValueError(f"{label} “{value}” is not one of: {allowed}.")


_country = csvio.country_code
spreadsheet_safe = csvio.spreadsheet_safe
_unquote_cell = csvio.unquote_cell


def _with_scheme(website: str) -> str:
    return website if not website or "://" in website else f"https://{website}"


_field_errors = csvio.model_field_errors


def parse_partner_csv(tenant: Tenant, text: str) -> ImportResult:
    """Validate a partner CSV without writing anything: every row gets the
    list of its problems (against the directory and the rest of the file)."""
    return csvio.read_import(
        text,
        ImportResult(rows=[], errors=[]),
        lambda text, result: _parse_rows(tenant, text, result),
    )


def _parse_rows(tenant: Tenant, text: str, result: ImportResult) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not any(headers):
        result.errors.append("The file is empty.")
        return
    reader.fieldnames = headers
    missing = REQUIRED_COLUMNS - set(headers)
    if missing:
        result.errors.append(
            f"Missing required {fmt.noun(len(missing), 'column')}: {', '.join(sorted(missing))}."
        )
    unknown = set(headers) - set(CSV_COLUMNS)
    if unknown:
        result.errors.append(
            f"Unknown {fmt.noun(len(unknown), 'column')}: "
            f"{', '.join(sorted(unknown))}. Allowed: {', '.join(CSV_COLUMNS)}."
        )
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        result.errors.append(
            f"{fmt.noun(len(repeated), 'Column')} named more than once: {', '.join(repeated)}."
        )
    if result.errors:
        return

    tiers = {t.name.lower(): t for t in Tier.objects.filter(tenant=tenant)}
    regions = {}
    for region in Region.objects.filter(tenant=tenant):
        regions[region.code.lower()] = region
        regions[region.name.lower()] = region
    managers = {
        m.user.email.lower(): m.user
        for m in Membership.objects.filter(
            tenant=tenant, role=Role.CHANNEL_MANAGER, is_active=True
        ).select_related("user")
    }
    seen_names: dict[str, int] = {}
    seen_domains: dict[str, int] = {}

    for number, raw in enumerate(reader, start=2):
        if len(result.rows) >= MAX_IMPORT_ROWS:
            result.errors.append(f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
            break
        values = {k: _unquote_cell((v or "").strip()) for k, v in raw.items() if k}
        if not any(values.values()):
            continue
        row = ImportRow(line=number, values=values)
        result.rows.append(row)
        data: dict[str, Any] = {
            "name": values.get("name", ""),
            "legal_name": values.get("legal_name", ""),
            "website": _with_scheme(values.get("website", "")),
            "phone": values.get("phone", ""),
        }
        row.errors += _field_errors(Partner, {k: data[k] for k in ("legal_name", "phone")})
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
            found = regions.get(values["region"].lower())
            if found is None:
                row.errors.append(f"region: “{values['region']}” is not a region code or name.")
            else:
                data["region"] = found
        if values.get("channel_manager_email"):
            manager = managers.get(values["channel_manager_email"].lower())
            if manager is None:
                row.errors.append(
                    f"channel_manager_email: {values['channel_manager_email']} is not an "
                    "active channel manager of this program."
                )
            else:
                data["channel_manager"] = manager
        if not data["name"]:
            row.errors.append("name: this column is required.")
        else:
            row.errors += _field_errors(Partner, {"name": data["name"]})
            for field_name, message in duplicate_errors(
                tenant, name=data["name"], website=data["website"]
            ).items():
                row.errors.append(f"{field_name}: {message}")
        if data["website"]:
            row.errors += _field_errors(Partner, {"website": data["website"]})
        normalized = normalize_name(data["name"])
        if normalized and normalized in seen_names:
            row.errors.append(f"name: same partner as line {seen_names[normalized]} of this file.")
        if normalized:
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
                row.errors += _field_errors(Contact, row.contact, prefix="contact_")
        elif values.get("contact_phone") or values.get("contact_title"):
            row.errors.append("contact: contact_phone and contact_title need a contact_name.")
        data.setdefault("status", Partner.Status.PROSPECT)
        row.data = data
    if not result.rows and not result.errors:
        result.errors.append("The file has a header but no rows.")


def import_partners(*, tenant: Tenant, by: User | None, text: str) -> ImportResult:
    """Validate and import a partner CSV, all or nothing: if any row has a
    problem nothing is written and the result says which rows and why."""
    with transaction.atomic():
        result = parse_partner_csv(tenant, text)
        if not result.ok:
            return result
        for row in result.rows:
            try:
                partner = create_partner(tenant=tenant, by=by, data=row.data)
                if row.contact:
                    contact = Contact(
                        tenant=tenant, partner=partner, is_primary=True, **row.contact
                    )
                    contact.full_clean(exclude=["tenant", "partner"])
                    contact.save()
            except (PartnerError, ValidationError) as exc:
                transaction.set_rollback(True)
                row.errors.append(
                    str(exc) if isinstance(exc, PartnerError) else "; ".join(exc.messages)
                )
                result.created = 0
                return result
            result.created += 1
        audit(
            tenant,
            by=by,
            action="partner.imported",
            obj=tenant,
            data={"created": result.created},
        )
    return result


def export_partners_csv(partners: QuerySet[Partner]) -> str:
    """The partners as CSV in the import format (a round trip re-imports),
    every cell safe to open in a spreadsheet."""
    return csvio.csv_text(export_rows(partners), CSV_COLUMNS)


def export_rows(partners: QuerySet[Partner]) -> Iterator[list[str]]:
    """The export's rows (lists of cells), one per partner."""
    partners = partners.select_related("tier", "region", "channel_manager").prefetch_related(
        "contacts"
    )
    for partner in partners:
        contact = next(iter(partner.contacts.all()), None)
        yield [
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
