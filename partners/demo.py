"""The partner directory's demo data: tiers, regions, thirty-five partners
with a primary contact and their people, a second channel manager, and the
partner logins at the first partner.

And the directory's year: when each partner joined the program and how it
moved since (onboarding to active, suspended, up or down a tier), written
through the directory's services and dated when it happened (its history
and audit entries); when its people last signed in to the portal; and which
partners went quiet. ``PartnerStory`` tells the later steps (deal
registration) when each partner could register deals and how many."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at, backdate_audit, demo_member, demo_user
from prm.tenancy.models import Tenant, User
from prm.tenancy.roles import Role

from . import services
from .models import Contact, Partner, Region, Tier, TierChange
from .normalize import normalize_name

TIERS = [
    ("Registered", 1, "Portal access, deal registration, standard discount."),
    ("Silver", 2, "Deal protection for 90 days, 5% rebate, MDF on request."),
    (
        "Gold",
        3,
        "Everything in Silver, 8% rebate, quarterly MDF allocation, named channel manager.",
    ),
    ("Platinum", 4, "Everything in Gold, 12% rebate, joint business planning, early access."),
]

REGIONS = [
    ("North America", "na", ["US", "CA", "MX"]),
    ("EMEA", "emea", ["GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "AE", "ZA"]),
    ("APAC", "apac", ["AU", "JP", "SG", "IN", "NZ", "KR"]),
    ("Latin America", "latam", ["BR", "AR", "CL", "CO", "PE"]),
]

PARTNER_NAMES = [
    "Northwind Solutions",
    "Contoso Integration",
    "Fabrikam Networks",
    "Tailspin IT",
    "Wide World Systems",
    "Proseware Managed Services",
    "Litware Distribution",
    "Adventure Works Consulting",
    "Blue Yonder Security",
    "Coho Data Partners",
    "Fourth Coffee Technologies",
    "Graphic Design Institute IT",
    "Humongous Reseller Group",
    "Lucerne Cloud Services",
    "Margie's Travel Tech",
    "Nod Publishers Digital",
    "Southridge Infrastructure",
    "Trey Research Labs",
    "Wingtip Networks",
    "Alpine Ski IT",
]
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "AU", "JP", "BR", "NL", "SG", "IN", "MX"]
TYPES = [t.value for t in Partner.Type]
STATUSES = ["active"] * 6 + ["onboarding", "prospect", "active", "suspended"]

# The partners who joined during the year: name, type, country, tier rank.
NEWER_PARTNERS = [
    ("Relecloud Partners", "reseller", "US", 2),
    ("VanArsdel Networks", "si", "DE", 2),
    ("Woodgrove Integration", "msp", "GB", 1),
    ("A. Datum Consulting", "si", "US", 3),
    ("Consolidated Messenger IT", "reseller", "ES", 1),
    ("First Up Consultants", "referral", "US", 1),
    ("Lamna Managed Services", "msp", "SE", 2),
    ("Bellows Cloud", "reseller", "CA", 1),
    ("Harborview Data", "distributor", "US", 3),
    ("Trailhead Traders", "reseller", "AE", 1),
    ("Fineline Security", "msp", "KR", 2),
    ("Cronus Systems", "si", "NZ", 1),
    ("Kestrel Cyber", "referral", "PL", 1),
    ("Ironbridge Solutions", "reseller", "AR", 1),
    ("Pinecrest Technologies", "msp", "CL", 1),
]

# --- The year's story ------------------------------------------------------------------------
# By the partner's index: days before today it joined the program (the
# others joined the year before, see ``_enrolled_days``), its moves since
# (days ago, the fields that changed), and for the quiet ones the day they
# stopped registering deals.
JOINED_DAYS = {
    6: 45,  # still onboarding
    7: 20,  # a prospect
    11: 300,
    13: 250,
    16: 70,  # still onboarding
    17: 9,  # a prospect
    **{20 + n: days for n, days in enumerate([340, 320, 300, 290, 270, 250, 230, 210])},
    **{28 + n: days for n, days in enumerate([200, 180, 160, 140, 110, 90, 55])},
}
ONBOARDING_DAYS = 30  # from joining to active, for those who became active
STILL_ONBOARDING = {6, 16, 34}
MOVES: dict[int, list[tuple[int, dict[str, Any]]]] = {
    2: [(120, {"tier": 3})],  # Fabrikam: Silver to Gold
    15: [(170, {"tier": 4})],  # Nod Publishers: Gold to Platinum
    10: [(60, {"tier": 3})],  # Fourth Coffee: Platinum down to Gold
    23: [(75, {"tier": 3})],  # A. Datum: Silver to Gold
    9: [(150, {"status": "suspended"})],  # Coho: compliance review
    19: [(80, {"status": "suspended"})],  # Alpine Ski: contract lapsed
}
# The tier each of these started in, before its move.
FIRST_TIER = {2: 2, 15: 3, 10: 4, 23: 2}
QUIET_DAYS = {5: 105, 14: 80, 18: 130}
# Deals a month of a typical partner of each tier (deal registration's scale).
TIER_ACTIVITY = {1: 0.85, 2: 1.0, 3: 1.2, 4: 1.45}

FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas"]
LAST_NAMES = ["Alvarez", "Brooks", "Chen", "Duval", "Eriksen", "Fischer", "Gupta", "Haddad"]


@dataclass(frozen=True)
class PartnerStory:
    """What a partner did in the demo's year, for the later steps: when it
    joined, from when it could register deals (active or onboarding, until
    it was suspended), how many a month it registers compared with a typical
    partner, and, for a partner that went quiet, the day it stopped."""

    enrolled: date
    registers_from: date | None
    registers_until: date | None
    activity: float
    quiet_since: date | None = None


def seed(ctx: DemoContext) -> None:
    tenant = ctx.tenant
    tiers = {}
    for name, rank, benefits in TIERS:
        tiers[rank], _ = Tier.objects.get_or_create(
            tenant=tenant, name=name, defaults={"rank": rank, "benefits": benefits}
        )
    for name, code, countries in REGIONS:
        Region.objects.get_or_create(
            tenant=tenant, code=code, defaults={"name": name, "countries": countries}
        )
    second_cm = demo_user(f"cm2@{tenant.slug}.example", "Chen Channel")
    demo_member(tenant, second_cm, Role.CHANNEL_MANAGER)
    managers = [ctx.users[Role.CHANNEL_MANAGER], second_cm]
    today = tenant.local_today()
    rng = random.Random(f"partners-{tenant.slug}")  # noqa: S311 (a story, not a secret)

    partners = []
    stories = {}
    for i, (name, data) in enumerate(_specs(tiers, managers)):
        story = _story(i, today, int(data["tier"].rank), ctx.history)
        existing = Partner.objects.filter(normalized_name=normalize_name(name)).first()
        if existing:
            partners.append(existing)
            stories[existing.pk] = story
            continue
        partner = _create(ctx, i, data, tiers, story.enrolled)
        Contact.objects.create(
            tenant=tenant,
            partner=partner,
            name=f"Sales lead at {name}",
            email=f"sales@{partner.domain}",
            title="Head of sales",
            is_primary=True,
        )
        _people(tenant, partner, story, i, rng, today)
        partners.append(partner)
        stories[partner.pk] = story

    for role in (Role.PARTNER_ADMIN, Role.PARTNER_USER):
        ctx.people[role] = demo_member(tenant, ctx.users[role], role, partner=partners[0])
    ctx.objects["partners.partners"] = partners
    ctx.objects["partners.stories"] = stories


def _specs(tiers: dict[int, Tier], managers: list[User]) -> list[tuple[str, dict[str, Any]]]:
    """Each partner's name and its fields as they are today."""
    specs = []
    for i, name in enumerate(PARTNER_NAMES):
        data = {
            "partner_type": TYPES[i % len(TYPES)],
            "country": COUNTRIES[i % len(COUNTRIES)],
            "tier": tiers[(i % 4) + 1] if i else tiers[3],
            "status": STATUSES[i % len(STATUSES)],
            "channel_manager": managers[i % 2],
            "phone": f"+1 555 01{i:02d}",
        }
        specs.append((name, data))
    for n, (name, partner_type, country, rank) in enumerate(NEWER_PARTNERS):
        i = len(PARTNER_NAMES) + n
        data = {
            "partner_type": partner_type,
            "country": country,
            "tier": tiers[rank],
            "status": "onboarding" if i in STILL_ONBOARDING else "active",
            "channel_manager": managers[i % 2],
            "phone": f"+1 555 02{n:02d}",
        }
        specs.append((name, data))
    return specs


def _enrolled_days(i: int) -> int:
    return JOINED_DAYS.get(i, 420 + (i * 97) % 900)


def _story(i: int, today: date, rank: int, history: float) -> PartnerStory:
    enrolled = today - timedelta(days=_enrolled_days(i))
    status = STATUSES[i % len(STATUSES)] if i < len(PARTNER_NAMES) else "active"
    registers_from: date | None = enrolled
    registers_until = None
    if status == "prospect":
        registers_from = None
    for days, change in MOVES.get(i, []):
        if change.get("status") == "suspended":
            registers_until = today - timedelta(days=days)
    quiet = QUIET_DAYS.get(i)
    # Some partners bring more deals than their tier's typical one.
    activity = TIER_ACTIVITY[rank] * (0.8 + ((i * 37) % 10) / 22) * history
    return PartnerStory(
        enrolled=enrolled,
        registers_from=registers_from,
        registers_until=registers_until,
        activity=round(activity, 2),
        quiet_since=today - timedelta(days=quiet) if quiet else None,
    )


def _create(
    ctx: DemoContext, i: int, data: dict[str, Any], tiers: dict[int, Tier], enrolled: date
) -> Partner:
    """The partner, through the directory's services: as it joined, then
    each move; its history and audit entries dated when they happened."""
    tenant = ctx.tenant
    ops = ctx.users[Role.OPS_ADMIN]
    name = PARTNER_NAMES[i] if i < len(PARTNER_NAMES) else NEWER_PARTNERS[i - 20][0]
    slug = normalize_name(name).replace(" ", "-").replace("'", "").replace(".", "")
    first = dict(data)
    moves: list[tuple[int, dict[str, Any]]] = list(MOVES.get(i, []))
    if i in FIRST_TIER:
        first["tier"] = tiers[FIRST_TIER[i]]
    if any(change.get("status") == "suspended" for _, change in moves):
        first["status"] = "active"
    became_active = _enrolled_days(i) > ONBOARDING_DAYS and i in JOINED_DAYS
    if became_active and data["status"] == "active":
        # Joined during the year: onboarding first, active a month later.
        first["status"] = "onboarding"
        moves.append((_enrolled_days(i) - ONBOARDING_DAYS, {"status": "active"}))
    partner = services.create_partner(
        tenant=tenant,
        by=ops,
        data={
            "name": name,
            "legal_name": f"{name} Inc.",
            "website": f"https://{slug}.example",
            **first,
        },
    )
    moments = [at(tenant, enrolled, 9.5 + i % 7)]
    today = tenant.local_today()
    for days, change in sorted(moves, key=lambda move: -move[0]):
        fields = {k: tiers[v] if k == "tier" else v for k, v in change.items()}
        services.update_partner(partner, by=ops, data=fields)
        moments.append(at(tenant, today - timedelta(days=days), 11 + i % 5))
    _backdate(tenant, partner, moments)
    return partner


def _backdate(tenant: Tenant, partner: Partner, moments: list[datetime]) -> None:
    """Date the partner's versions (its history, which the directory's
    metrics read) and audit entries at ``moments``, oldest first."""
    versions = partner.history.order_by("history_date")
    for version, moment in zip(list(versions), moments, strict=True):
        type(version).objects.filter(pk=version.pk).update(history_date=moment)
    Partner.objects.filter(pk=partner.pk).update(created_at=moments[0], updated_at=moments[-1])
    backdate_audit(tenant, partner, moments)
    # Its tier history: the row of each version that set a new tier, dated then.
    changes = iter(TierChange.objects.filter(partner=partner).order_by("id"))
    held = None
    for version, moment in zip(list(versions), moments, strict=True):
        if version.tier_id != held:
            held = version.tier_id
            change = next(changes)
            moment_day = tenant.local_today(moment)
            TierChange.objects.filter(pk=change.pk).update(
                effective_on=moment_day, created_at=moment
            )


def _people(
    tenant: Tenant,
    partner: Partner,
    story: PartnerStory,
    i: int,
    rng: random.Random,
    today: date,
) -> None:
    """The partner's portal people (``sales@`` registers its deals, the
    first of the others is its admin) and when each last signed in: most
    people of an engaged partner in the last weeks, some long ago (they
    stopped using the portal), nobody at a prospect, nobody since at a
    partner that went quiet or was suspended."""
    people = [(f"sales@{partner.domain}", f"{partner.name} Sales", Role.PARTNER_USER)]
    for n in range(1 + i % 3):
        first = FIRST_NAMES[(i + n * 3) % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 2 + n) % len(LAST_NAMES)]
        role = Role.PARTNER_ADMIN if n == 0 else Role.PARTNER_USER
        people.append((f"{first.lower()}.{last.lower()}@{partner.domain}", f"{first} {last}", role))
    if story.registers_from is None:
        last_seen = None
    else:
        last_seen = min(d for d in (story.quiet_since, story.registers_until, today) if d)
    for n, (email, full_name, role) in enumerate(people):
        known = User.objects.filter(email__iexact=email).exists()
        user = demo_user(email, full_name)
        demo_member(tenant, user, role, partner=partner)
        if known:
            continue  # works with the other demo vendor too, and signed in as seen there
        joined = at(tenant, min(story.enrolled + timedelta(days=3 + n * 11), today), 7)
        login = None
        if last_seen is not None and last_seen > story.enrolled:
            span = (last_seen - story.enrolled).days
            if n == 0 and last_seen == today and rng.random() < 0.88:
                back = rng.randint(0, 24)  # an engaged partner's salesperson
            elif n == 0 and last_seen != today:
                back = rng.randint(0, 10)  # the last sign-in before it went quiet
            else:
                # Someone who stopped signing in, some time this year.
                back = rng.randint(0, min(span, 365))
            login = at(tenant, last_seen - timedelta(days=back), 8 + rng.random() * 9)
        type(user).objects.filter(pk=user.pk).update(
            date_joined=min(joined, login) if login else joined, last_login=login
        )
