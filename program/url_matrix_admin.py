"""The program admin's part of the URL-matrix test (tests/test_url_matrix.py),
merged into ``program/url_matrix.py``; loaded by the tests only. The world
gets published tier criteria (v1: Gold asks for won revenue), a draft
copied from them (the object of the criteria's and a tier's pages), an
evaluation run on demand and a hold of its other partner, all through the
services. Each factory returns the same objects when called again for the
same tenant (the matrix calls it for every route and role)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from partners.models import Tier
from prm.tenancy.roles import Role

from . import criteria, holds
from .evaluation import evaluate
from .models import (
    CriteriaVersion,
    Evaluation,
    QualificationSettings,
    TierCriterion,
    TierHold,
    TierTarget,
)

Status = CriteriaVersion.Status


def _published(world: Any) -> CriteriaVersion:
    found = CriteriaVersion.objects.filter(status__in=[Status.PUBLISHED, Status.RETIRED]).first()
    if found is not None:
        return found
    version = CriteriaVersion.objects.create(
        tenant=world.tenant, number=1, status=Status.PUBLISHED, note="Matrix criteria"
    )
    gold = Tier.objects.get(name="Gold")
    target = TierTarget.objects.create(tenant=world.tenant, version=version, tier=gold)
    TierCriterion.objects.create(
        tenant=world.tenant,
        target=target,
        kind=TierCriterion.Kind.WON_REVENUE,
        threshold=Decimal("1000"),
    )
    return version


def _draft(world: Any) -> CriteriaVersion:
    _published(world)
    found = criteria.draft_of(world.tenant)
    if found is not None:
        return found
    return criteria.new_draft(world.tenant, by=world[Role.OPS_ADMIN].user, note="Matrix draft")


def settings(world: Any) -> QualificationSettings:
    with world.scope():
        return QualificationSettings.for_tenant(world.tenant)


def draft(world: Any) -> CriteriaVersion:
    with world.scope():
        return _draft(world)


def target(world: Any) -> TierTarget | None:
    with world.scope():
        return TierTarget.objects.filter(version=_draft(world)).first()


def evaluation(world: Any) -> Evaluation:
    with world.scope():
        found = Evaluation.objects.first()
        if found is not None:
            return found
        _published(world)
        return evaluate(world.tenant, trigger=Evaluation.Trigger.ON_DEMAND)


def hold(world: Any) -> TierHold:
    with world.scope():
        found = TierHold.objects.first()
        if found is not None:
            return found
        partner = world.other_partner
        return holds.hold(
            partner,
            partner.tier,
            reason="Matrix hold",
            ends_on=world.tenant.local_today() + timedelta(days=30),
            by=world[Role.OPS_ADMIN].user,
        )


ADMIN_OBJECTS = {
    "program.qualificationsettings": settings,
    "program.criteriaversion": draft,
    "program.tiertarget": target,
    "program.evaluation": evaluation,
    "program.tierhold": hold,
}
# One policy row per tenant; versions are discarded on their page (never
# deleted); a tier joins a version on the version's page; holds are the
# record (released, never deleted or edited).
ADMIN_NOBODY = {
    ("program.qualificationsettings", "add"),
    ("program.qualificationsettings", "delete"),
    ("program.criteriaversion", "delete"),
    ("program.tiertarget", "add"),
    ("program.tierhold", "delete"),
}
CUSTOM_ADMIN_VIEWS = {
    "program_criteriaversion_simulate": "program.evaluate_tiers",
    "program_evaluation_evaluate": "program.evaluate_tiers",
}
