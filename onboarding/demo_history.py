"""Onboarding's year in the demo (see ``onboarding.demo``): the acceptances
of the agreements, and the onboarding plans of the partners that joined
during the year, each started on the day the partner joined (approving its
application, for most) and completed step by step through the plans' own
services with ``now=`` the moment it happened.

A step's offsets from the plan's start vary with the partner, so some come
in late; the first deal registered and approved are the partner's own
registrations in deal registration's demo (the plans read them). A plan of
the year that never got a first deal approved was closed by ops (cancelled),
so the only plans in progress are those of the three partners still
onboarding: one on track, one with its next step due today, one overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from mdf.demo_year import pdf
from partners.demo import JOINED_DAYS, STILL_ONBOARDING
from partners.models import Partner
from prm.tenancy.declarations import DemoContext
from prm.tenancy.demo import at
from prm.tenancy.models import Membership, User
from prm.tenancy.roles import Role
from prm.tenancy.services import audit

from . import plans as core
from .models import (
    Acceptance,
    AgreementVersion,
    Application,
    ApplicationCheck,
    ApplicationEvent,
    OnboardingSettings,
    Plan,
    PlanStep,
    StepKind,
    VettingCheck,
)

USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
# The plans still in progress: days from the start each step was done (None:
# not yet). Southridge (16) is overdue: its W-9 came late and its course is
# three weeks overdue.
IN_PROGRESS: dict[int, dict[str, int | None]] = {
    6: {"agreement": 2, "profile": 4, "kickoff": 9, "document": 16, "training": None},
    34: {"agreement": 1, "profile": 6, "kickoff": 8, "document": 19, "training": 38},
    16: {"agreement": 3, "profile": 10, "kickoff": 12, "document": 30, "training": None},
}
# Ops close a plan of the year that never got a first deal approved this
# long after its start.
CLOSED_AFTER = timedelta(days=120)


def offsets(i: int) -> dict[str, int | None]:
    """When the partner with demo index ``i`` did each step of a completed
    plan (days from the start): most on time, some late."""
    return {
        "agreement": 1 + i % 3,
        "profile": 3 + i % 6,
        "kickoff": 4 + (i * 3) % 12,
        "document": 6 + (i * 5) % 22,
        "training": 25 + (i * 7) % 30,
    }


class History:
    def __init__(
        self, ctx: DemoContext, settings_row: OnboardingSettings, checks: list[VettingCheck]
    ) -> None:
        self.ctx = ctx
        self.tenant = ctx.tenant
        self.settings = settings_row
        self.checks = checks
        self.now = timezone.now()
        self.today = self.tenant.local_today(self.now)
        self.ops = ctx.users[Role.OPS_ADMIN]
        # As stored: the directory's step dated them (``created_at``) after making them.
        given = ctx.objects["partners.partners"]
        stored = Partner.objects.in_bulk([partner.pk for partner in given])
        self.partners: list[Partner] = [stored[partner.pk] for partner in given]
        self.stories = ctx.objects["partners.stories"]
        members = Membership.objects.filter(
            tenant=self.tenant,
            partner__in=self.partners,
            role=Role.PARTNER_ADMIN,
        ).select_related("user")
        demo_admin = ctx.users[Role.PARTNER_ADMIN]
        self.admins: dict[Any, User] = {}
        for member in members.order_by("created_at", "pk"):
            if member.user_id != demo_admin.pk:
                self.admins.setdefault(member.partner_id, member.user)
        self.managers = {
            m.user_id: m
            for m in Membership.objects.filter(
                tenant=self.tenant, role=Role.CHANNEL_MANAGER
            ).select_related("user")
        }

    def joined(self, i: int, partner: Partner) -> bool:
        """Joined during the year and took part (not a prospect)."""
        return i in JOINED_DAYS and self.stories[partner.pk].registers_from is not None

    # --- Agreements ------------------------------------------------------------------------

    def accept(self, v1: AgreementVersion, v2: AgreementVersion, msp: AgreementVersion) -> None:
        """Every partner but the prospects accepted the first version (when
        it came out, or when it joined); the MSPs the addendum with it but
        Pinecrest, still onboarding (its people are kept to the onboarding
        pages until it does). The demo partner admin accepted the second
        version for its partner, and a few other partners did too."""
        rows = []
        for i, partner in enumerate(self.partners):
            admin = self.admins.get(partner.pk)
            if admin is None or self.stories[partner.pk].registers_from is None:
                continue
            if i in JOINED_DAYS:
                when = partner.created_at + timedelta(days=self.step_days(i)["agreement"] or 0)
            else:
                when = at(self.tenant, v1.effective_on + timedelta(days=i % 25), 10 + i % 6)
            rows.append(self._acceptance(v1, partner, admin, when, i))
            if partner.partner_type == Partner.Type.MSP and i not in STILL_ONBOARDING:
                rows.append(self._acceptance(msp, partner, admin, when + timedelta(minutes=4), i))
            if (i == 0 or i % 5 == 2) and partner.status == Partner.Status.ACTIVE:
                by = self.ctx.users[Role.PARTNER_ADMIN] if i == 0 else admin
                moment = at(self.tenant, self.today - timedelta(days=2 + i % 15), 14)
                rows.append(self._acceptance(v2, partner, by, min(moment, self.now), i))
        Acceptance.objects.bulk_create(rows)

    def _acceptance(
        self, version: AgreementVersion, partner: Partner, user: User, when: datetime, i: int
    ) -> Acceptance:
        return Acceptance(
            tenant=self.tenant,
            version=version,
            partner=partner,
            user=user,
            typed_name=user.full_name,
            accepted_at=when,
            ip_address=f"203.0.113.{1 + i}",
            user_agent=USER_AGENT,
            content_sha256=version.content_sha256,
        )

    # --- Plans ---------------------------------------------------------------------------------

    def step_days(self, i: int) -> dict[str, int | None]:
        return IN_PROGRESS.get(i) or offsets(i)

    def plans(self) -> None:
        started = []
        for i, partner in enumerate(self.partners):
            if not self.joined(i, partner):
                continue
            application = None if i % 4 == 3 else self.application(i, partner)
            plan = core.start_plan(
                partner, by=self.ops, application=application, now=partner.created_at
            )
            if plan is None:
                continue
            self.play(i, plan)
            started.append((i, plan))
        for i, plan in started:
            plan.refresh_from_db()
            if i not in STILL_ONBOARDING and plan.status == Plan.Status.ACTIVE:
                self.close(plan)
        self.ctx.objects["onboarding.plans"] = [plan for _, plan in started]

    def application(self, i: int, partner: Partner) -> Application:
        """The approved application that created ``partner``."""
        decided = partner.created_at
        confirmed = decided - timedelta(days=4 + i % 9, hours=3)
        admin = self.admins.get(partner.pk)
        reviewer = partner.channel_manager or self.ops
        application = Application.objects.create(
            tenant=self.tenant,
            status=Application.Status.APPROVED,
            company_name=partner.name,
            legal_name=partner.legal_name,
            normalized_name=partner.normalized_name,
            website=partner.website,
            domain=partner.domain,
            country=partner.country,
            partner_type=partner.partner_type,
            company_size=["10-49", "50-249", "1-9", "250-999"][i % 4],
            specialities="Networking and security for small and mid-sized companies.",
            markets="Regional mid-market customers.",
            contact_name=admin.full_name if admin else f"{partner.name} owner",
            contact_email=admin.email if admin else f"owner@{partner.domain}",
            answers={"customers": str(30 + i * 7), "focus": "Mid-market"},
            ip_address=f"198.51.100.{100 + i}",
            user_agent=USER_AGENT,
            created_at=confirmed - timedelta(minutes=15),
            confirmed_at=confirmed,
            due_at=self.settings.calendar().add_days(
                confirmed, self.settings.decision_business_days
            ),
            reviewer=reviewer,
            decided_at=decided,
            decided_by=reviewer,
            partner=partner,
        )
        checked = [confirmed + timedelta(days=1, hours=n) for n in range(len(self.checks))]
        ApplicationCheck.objects.bulk_create(
            ApplicationCheck(
                tenant=self.tenant,
                application=application,
                check_item=check,
                done_by=reviewer,
                done_at=moment,
            )
            for check, moment in zip(self.checks, checked, strict=True)
        )
        timeline = [
            (ApplicationEvent.Kind.RECEIVED, application.created_at, None),
            (ApplicationEvent.Kind.CONFIRMED, confirmed, None),
            *((ApplicationEvent.Kind.CHECKED, moment, reviewer) for moment in checked),
            (ApplicationEvent.Kind.APPROVED, decided, reviewer),
        ]
        ApplicationEvent.objects.bulk_create(
            ApplicationEvent(tenant=self.tenant, application=application, kind=k, at=t, by=b)
            for k, t, b in timeline
        )
        return application

    def play(self, i: int, plan: Plan) -> None:
        """The plan's steps, each done when the partner did it (the
        agreement step completed itself at the plan's start from the
        acceptance already recorded; so did the first deal's steps, if the
        partner's registrations were there)."""
        partner = plan.partner
        days = self.step_days(i)

        def moment(step: str) -> datetime | None:
            found = days.get(step)
            if found is None:
                return None
            return min(plan.started_at + timedelta(days=found, hours=2), self.now)

        steps = {step.kind: step for step in plan.steps.all()}
        document = moment("document")
        if document is not None:
            self.upload_w9(plan, steps[StepKind.DOCUMENT], document)
        later: list[tuple[datetime, str]] = [
            (when, name)
            for name in ("profile", "kickoff", "training")
            if (when := moment(name)) is not None
        ]
        for when, name in sorted(later):
            if name == "profile":
                Partner.objects.filter(pk=partner.pk).update(
                    address=f"{100 + i} Market Street\nSuite {200 + i}"
                )
                partner.refresh_from_db(fields=["address"])
                core.sync_plan(Plan.objects.select_related("partner").get(pk=plan.pk), now=when)
            elif name == "kickoff":
                core.tick(
                    steps[StepKind.KICKOFF],
                    by=self.manager(partner),
                    note="Kickoff held: first quarter's targets agreed.",
                    now=when,
                )
            else:
                core.record_course_completed(
                    partner, "SF-101", at=when, evidence="Sales Foundations (SF-101) passed"
                )

    def manager(self, partner: Partner) -> Membership:
        """The partner's channel manager (who ticks the kickoff), else ops."""
        found = (
            self.managers.get(partner.channel_manager_id) if partner.channel_manager_id else None
        )
        return found or self.ctx.people[Role.OPS_ADMIN]

    def upload_w9(self, plan: Plan, step: PlanStep, when: datetime) -> None:
        """The partner's admin uploaded its W-9 (a one-page PDF)."""
        content = pdf(f"Form W-9 - {plan.partner.name}")
        step.document.save(f"w9-{plan.partner.pk}.pdf", ContentFile(content), save=False)
        step.document_original_name = "W-9 signed.pdf"
        step.document_type = "application/pdf"
        step.document_size = len(content)
        step.document_sha256 = AgreementVersion.digest(content)
        step.completed_at = when
        step.completed_by = self.admins.get(plan.partner_id)
        step.source = PlanStep.Source.AUTOMATIC
        step.evidence = "W-9 signed.pdf"
        step.save()
        Plan.objects.filter(pk=plan.pk, last_progress_at__lt=when).update(last_progress_at=when)

    def close(self, plan: Plan) -> None:
        """Ops close a plan of the year that never got a first deal approved."""
        when = min(plan.started_at + CLOSED_AFTER, self.now)
        plan.status = Plan.Status.CANCELLED
        plan.save(update_fields=["status"])
        audit(
            self.tenant,
            by=self.ops,
            action="onboarding.plan_cancelled",
            obj=plan,
            data={"reason": "No deal approved in the plan's first four months."},
            now=when,
        )
