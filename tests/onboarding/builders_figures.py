"""Data for the onboarding figures' tests: plans and their steps stored as
they end up, at chosen moments (the plans' own services are tested where
they are written), applications, registrations. The test tenants are on UTC."""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from dealreg.models import DealRegistration
from onboarding.models import Application, Plan, PlanStep, StepKind
from partners.models import Partner
from prm.tenancy.roles import Role
from tests import factories

Status = DealRegistration.Status
_seq = itertools.count(1)


def at(day: date, hour: float = 12) -> datetime:
    """``hour`` o'clock (UTC) of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def joined(world, partner: Partner, moment: datetime) -> Partner:
    """Date the partner's addition to the directory."""
    with world.scope():
        Partner.objects.filter(pk=partner.pk).update(created_at=moment)
        partner.refresh_from_db()
    return partner


def new_partner(world, name: str, moment: datetime, **data) -> Partner:
    with world.scope():
        partner = factories.make_partner(world.tenant, name, **data)
    return joined(world, partner, moment)


def applied(world, partner: Partner, moment: datetime) -> Application:
    """The approved application that created ``partner``, sent at ``moment``."""
    with world.scope():
        return Application.objects.create(
            tenant=world.tenant,
            status=Application.Status.APPROVED,
            company_name=partner.name,
            normalized_name=partner.normalized_name,
            country="US",
            partner_type=partner.partner_type,
            company_size="10-49",
            contact_name="Applicant",
            contact_email=f"applicant{next(_seq)}@example.test",
            created_at=moment,
            confirmed_at=moment,
            decided_at=partner.created_at,
            partner=partner,
        )


def plan(
    world,
    partner: Partner,
    started: datetime,
    steps: list[tuple[date, datetime | None]] = (),
    *,
    target_days: int = 90,
    completed: datetime | None = None,
    status: str | None = None,
    optional: list[tuple[date, datetime | None]] = (),
) -> Plan:
    """A plan started at ``started`` with required ``steps`` (due on, done
    at) and ``optional`` ones; completed at ``completed``, if given."""
    with world.scope():
        found = Plan.objects.create(
            tenant=world.tenant,
            partner=partner,
            name="Onboarding",
            status=status or (Plan.Status.COMPLETED if completed else Plan.Status.ACTIVE),
            started_at=started,
            target_on=started.date() + timedelta(days=target_days),
            completed_at=completed,
            last_progress_at=started,
        )
        for n, (due_on, done_at, required) in enumerate(
            [(*s, True) for s in steps] + [(*s, False) for s in optional]
        ):
            PlanStep.objects.create(
                tenant=world.tenant,
                plan=found,
                position=n,
                title=f"Step {n + 1}",
                kind=StepKind.CUSTOM,
                required=required,
                due_on=due_on,
                completed_at=done_at,
                source=PlanStep.Source.MANUAL if done_at else "",
            )
    return found


def complete(world, step: PlanStep, moment: datetime) -> None:
    with world.scope():
        step.completed_at = moment
        step.source = PlanStep.Source.MANUAL
        step.save(update_fields=["completed_at", "source"])


def registration(world, partner: Partner, *, status=Status.SUBMITTED, **fields):
    with world.scope():
        return DealRegistration.objects.create(
            tenant=world.tenant,
            partner=partner,
            submitted_by=world[Role.PARTNER_USER].user,
            customer_name=f"Onboarding customer {next(_seq)}",
            customer_name_normalized=f"onboarding customer {next(_seq)}",
            customer_country="US",
            estimated_value=Decimal("1000.00"),
            currency="USD",
            expected_close_date=date(2026, 6, 30),
            status=status,
            **fields,
        )


def won(world, partner: Partner, submitted: datetime, decided: datetime, close: date):
    return registration(
        world,
        partner,
        status=Status.WON,
        submitted_at=submitted,
        decided_at=decided,
        won_amount=Decimal("1000.00"),
        won_currency="USD",
        won_close_date=close,
        outcome_recorded_at=at(close),
    )
