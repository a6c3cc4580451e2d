"""The tier criteria in the tenant admin: ops start a draft (a copy of the
published version), edit each tier and its criteria, simulate the draft
against today's partners and publish it; every bad input is refused with
its message and changes nothing; published versions are read-only; other
roles get 403, another tenant 404."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.models import TierChange
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from program.models import CriteriaVersion, TierTarget
from tests.factories import make_partner
from tests.incentives.conftest import make_plan
from tests.onboarding import builders_training as tb

from . import builders as b
from .admin_forms import errors, rendered
from .builders import TODAY

pytestmark = pytest.mark.django_db
Kind = b.Kind
Status = CriteriaVersion.Status
VERSIONS = "tenant_admin:program_criteriaversion_changelist"
SIMULATE = "tenant_admin:program_criteriaversion_simulate"


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"tenant_admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def published_v1(world, tiers):
    """Silver asks 100,000 won, Gold 250,000 won (both required)."""
    return b.version(
        world,
        {
            tiers["Silver"]: (0, [(Kind.WON_REVENUE, "100000", True, None)]),
            tiers["Gold"]: (0, [(Kind.WON_REVENUE, "250000", True, None)]),
        },
    )


def start_draft(client, note="Raise Gold") -> CriteriaVersion:
    response = client.post(reverse("tenant_admin:program_criteriaversion_add"), {"note": note})
    assert response.status_code == 302, errors(response)
    return CriteriaVersion.objects.get(status=Status.DRAFT)


def target_of(version, tier) -> TierTarget:
    return TierTarget.objects.get(version=version, tier=tier)


def criteria_rows(target) -> list[tuple]:
    return sorted(
        (c.kind, c.certification_id, c.threshold, c.required) for c in target.criteria.all()
    )


def set_criterion(client, target, index, **values):
    """Post the tier's page with criterion ``index`` (an existing row, or
    the first empty one) changed to ``values``."""
    url = change_url(target)
    data = rendered(client.get(url))
    prefix = "criteria"
    if isinstance(index, str):  # the existing row of that kind
        index = next(
            int(k.split("-")[1]) for k, v in data.items() if k.endswith("-kind") and v == index
        )
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    if index >= total:
        data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
        data.update({f"{prefix}-{index}-threshold": "0", f"{prefix}-{index}-required": "on"})
    for name, value in values.items():
        key = f"{prefix}-{index}-{name}"
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    if "counted_minimum" in values:
        data["counted_minimum"] = values.pop("counted_minimum")
        data.pop(f"{prefix}-{index}-counted_minimum", None)
    return client.post(url, data)


class TestIncentiveImpact:
    def test_a_partner_moving_out_of_gold_loses_a_gold_only_commission(self, world, tiers, ops):
        published_v1(world, tiers)
        make_plan(world, tiers=[tiers["Gold"]], rate_percent=Decimal("10"), name="Gold bonus")
        b.win(world, world.partner, "300000", on=TODAY - dt.timedelta(days=40))
        draft = start_draft(ops)
        assert (
            set_criterion(ops, target_of(draft, tiers["Gold"]), 0, threshold="350000").status_code
            == 302
        )
        page = ops.get(reverse(SIMULATE))
        [impact] = page.context["impact"].impacts
        assert impact.version.plan.name == "Gold bonus"
        assert (impact.as_held, impact.simulated) == (Decimal("30000.00"), Decimal("0.00"))
        assert impact.partners_changed == 1
        assert page.context["impact"].difference == Decimal("-30000.00")
        assert b"-30,000" in page.content or b"30,000" in page.content


class TestSimulationCost:
    def test_queries_do_not_grow_with_partners(self, world, tiers, ops):
        published_v1(world, tiers)
        draft = start_draft(ops)
        gold = target_of(draft, tiers["Gold"])
        assert set_criterion(ops, gold, 0, threshold="350000").status_code == 302

        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert ops.get(reverse(SIMULATE)).status_code == 200
            return len(captured)

        for _ in range(3):
            b.win(world, make_partner(world.tenant, tier=tiers["Silver"]), "300000", on=TODAY)
        few = queries()
        for _ in range(12):
            b.win(world, make_partner(world.tenant, tier=tiers["Silver"]), "300000", on=TODAY)
        assert queries() == few
        assert ops.get(reverse(SIMULATE)).context["sim"].down == 15

    def test_no_draft_is_an_empty_state(self, world, tiers, ops):
        page = ops.get(reverse(SIMULATE))
        assert page.status_code == 200 and b"There is no draft to simulate" in page.content


class TestJourney:
    def test_draft_edit_simulate_publish(self, world, tiers, ops):
        v1 = published_v1(world, tiers)
        # One partner at 120,000 (Silver under v1), one at 300,000 (Gold).
        b.win(world, world.partner, "300000", on=TODAY)
        b.win(world, world.other_partner, "120000", on=TODAY)

        draft = start_draft(ops)
        assert draft.number == 2
        assert criteria_rows(target_of(draft, tiers["Gold"])) == criteria_rows(
            target_of(v1, tiers["Gold"])
        )
        assert AuditEntry.objects.filter(action="program.criteria_draft_started").exists()

        # Gold now asks 350,000: the partner at 300,000 would move down.
        gold = target_of(draft, tiers["Gold"])
        response = set_criterion(ops, gold, 0, threshold="350000")
        assert response.status_code == 302, errors(response)
        assert gold.criteria.get().threshold == Decimal("350000")

        # Silver asks 110,000 or more, counted: at least 1 of 2 criteria.
        silver = target_of(draft, tiers["Silver"])
        response = set_criterion(
            ops, silver, 1, kind=Kind.APPROVED, threshold="5", required=None, counted_minimum="1"
        )
        assert response.status_code == 302, errors(response)
        response = set_criterion(ops, silver, Kind.WON_REVENUE, threshold="110000", required=None)
        assert response.status_code == 302, errors(response)
        silver.refresh_from_db()
        assert silver.counted_minimum == 1

        page = ops.get(reverse(SIMULATE))
        assert page.status_code == 200
        sim = page.context["sim"]
        assert (sim.up, sim.down, sim.stay) == (0, 1, 1)
        [mover] = page.context["movers"]
        assert mover.partner == world.partner
        assert (mover.before, mover.after) == (tiers["Gold"], tiers["Silver"])
        matrix = {t.name: counts for t, counts, _ in page.context["matrix"]}
        order = [t.name for t in sim.tiers]
        assert matrix["Gold"][order.index("Silver")] == 1
        assert matrix["Silver"][order.index("Silver")] == 1
        html = page.content.decode()
        assert world.partner.name in html and "300,000" in html
        # The simulation wrote nothing.
        assert not TierChange.objects.filter(effective_on=TODAY).exists()

        url = change_url(draft)
        asked = ops.post(url, {"_action": "publish"})
        assert asked.status_code == 200 and b"Publish tier criteria v2?" in asked.content
        assert CriteriaVersion.objects.get(pk=draft.pk).status == Status.DRAFT
        done = ops.post(url, {"_action": "publish", "confirm": "yes"})
        assert done.status_code == 302
        draft.refresh_from_db()
        v1.refresh_from_db()
        assert (draft.status, v1.status) == (Status.PUBLISHED, Status.RETIRED)
        assert draft.published_by == world[Role.OPS_ADMIN].user
        assert AuditEntry.objects.filter(action="program.criteria_published").exists()

    def test_first_draft_is_empty_and_one_draft_at_a_time(self, world, tiers, ops):
        draft = start_draft(ops)
        assert not draft.targets.exists()
        response = ops.post(reverse("tenant_admin:program_criteriaversion_add"), {"note": "again"})
        assert response.status_code == 200
        assert any("Draft v1 is open already" in e for e in errors(response))
        assert CriteriaVersion.objects.count() == 1

    def test_add_a_tier_to_the_draft(self, world, tiers, ops):
        draft = start_draft(ops)
        data = rendered(ops.get(change_url(draft)))
        data.update(
            {
                "targets-TOTAL_FORMS": "1",
                "targets-0-tier": str(tiers["Gold"].pk),
                "targets-0-counted_minimum": "0",
            }
        )
        response = ops.post(change_url(draft), data)
        assert response.status_code == 302, errors(response)
        gold = target_of(draft, tiers["Gold"])
        response = set_criterion(ops, gold, 0, kind=Kind.WON_REVENUE, threshold="1000")
        assert response.status_code == 302, errors(response)
        assert criteria_rows(gold) == [(Kind.WON_REVENUE, None, Decimal("1000"), True)]

    def test_discard(self, world, tiers, ops):
        published_v1(world, tiers)
        draft = start_draft(ops)
        url = change_url(draft)
        assert ops.post(url, {"_action": "discard"}).status_code == 200  # asked first
        assert CriteriaVersion.objects.filter(pk=draft.pk).exists()
        response = ops.post(url, {"_action": "discard", "confirm": "yes"})
        assert response.status_code == 302 and response["Location"] == reverse(VERSIONS)
        assert not CriteriaVersion.objects.filter(pk=draft.pk).exists()
        assert not TierTarget.objects.filter(version_id=draft.pk).exists()
        assert CriteriaVersion.objects.get().status == Status.PUBLISHED


class TestBadInputs:
    @pytest.fixture
    def draft(self, world, tiers, ops):
        published_v1(world, tiers)
        return start_draft(ops)

    @pytest.fixture
    def cert(self, world):
        return tb.certification(world)

    def refused(self, ops, target, index, message, **values):
        before = (criteria_rows(target), TierTarget.objects.get(pk=target.pk).counted_minimum)
        response = set_criterion(ops, target, index, **values)
        assert response.status_code == 200
        assert any(message in e for e in errors(response)), errors(response)
        after = (criteria_rows(target), TierTarget.objects.get(pk=target.pk).counted_minimum)
        assert after == before

    def test_certified_needs_its_certification(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        self.refused(ops, gold, 1, "Choose the certification", kind=Kind.CERTIFIED, threshold="2")

    def test_only_certified_names_a_certification(self, ops, draft, tiers, cert):
        gold = target_of(draft, tiers["Gold"])
        self.refused(
            ops,
            gold,
            1,
            "Only “People holding a certification”",
            kind=Kind.APPROVED,
            threshold="2",
            certification=str(cert.pk),
        )

    def test_health_is_0_to_100(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        self.refused(ops, gold, 1, "from 0 to 100", kind=Kind.HEALTH, threshold="101")

    def test_no_negative_threshold(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        self.refused(ops, gold, 0, "negative", threshold="-1")

    def test_a_kind_once_per_tier(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        self.refused(ops, gold, 1, "listed already", kind=Kind.WON_REVENUE, threshold="5")

    def test_a_certification_once_per_tier(self, ops, draft, tiers, cert):
        gold = target_of(draft, tiers["Gold"])
        response = set_criterion(
            ops, gold, 1, kind=Kind.CERTIFIED, threshold="2", certification=str(cert.pk)
        )
        assert response.status_code == 302, errors(response)
        self.refused(
            ops,
            gold,
            2,
            "listed already",
            kind=Kind.CERTIFIED,
            threshold="3",
            certification=str(cert.pk),
        )

    def test_two_certifications_are_two_criteria(self, ops, draft, tiers, world, cert):
        other = tb.certification(world, code="ce2", name="Certified Architect")
        gold = target_of(draft, tiers["Gold"])
        for index, c in ((1, cert), (2, other)):
            response = set_criterion(
                ops, gold, index, kind=Kind.CERTIFIED, threshold="1", certification=str(c.pk)
            )
            assert response.status_code == 302, errors(response)
        assert gold.criteria.filter(kind=Kind.CERTIFIED).count() == 2

    def test_counted_minimum_within_the_counted_criteria(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        self.refused(ops, gold, 0, "not marked required", counted_minimum="1")

    def test_counted_minimum_on_the_version_page(self, ops, draft, tiers):
        data = rendered(ops.get(change_url(draft)))
        index = next(
            k.split("-")[1]
            for k, v in data.items()
            if k.endswith("-tier") and v == str(tiers["Gold"].pk)
        )
        data[f"targets-{index}-counted_minimum"] = "2"
        response = ops.post(change_url(draft), data)
        assert response.status_code == 200
        assert any("not marked required" in e for e in errors(response))
        assert target_of(draft, tiers["Gold"]).counted_minimum == 0

    def test_a_tier_once_per_version(self, ops, draft, tiers):
        data = rendered(ops.get(change_url(draft)))
        total = int(data["targets-TOTAL_FORMS"])
        data.update(
            {
                "targets-TOTAL_FORMS": str(total + 1),
                f"targets-{total}-tier": str(tiers["Gold"].pk),
                f"targets-{total}-counted_minimum": "0",
            }
        )
        response = ops.post(change_url(draft), data)
        assert response.status_code == 200
        assert errors(response)
        assert TierTarget.objects.filter(version=draft).count() == 2

    def test_publishing_a_tier_without_criteria_is_refused(self, ops, draft, tiers):
        TierTarget.objects.create(tenant=draft.tenant, version=draft, tier=tiers["Platinum"])
        response = ops.post(change_url(draft), {"_action": "publish", "confirm": "yes"})
        assert response.status_code == 200
        assert b"Platinum has no criteria" in response.content
        assert CriteriaVersion.objects.get(pk=draft.pk).status == Status.DRAFT

    def test_inverted_ladder_is_a_warning_on_the_simulation(self, ops, draft, tiers):
        gold = target_of(draft, tiers["Gold"])
        assert set_criterion(ops, gold, 0, threshold="50000").status_code == 302
        page = ops.get(reverse(SIMULATE))
        assert any("Gold asks less than Silver" in w for w in page.context["sim"].warnings)


class TestReadOnlyAndAccess:
    def test_published_versions_are_read_only(self, world, tiers, ops):
        v1 = published_v1(world, tiers)
        gold = target_of(v1, tiers["Gold"])
        page = ops.get(change_url(v1))
        assert page.status_code == 200 and b'name="_save"' not in page.content
        response = ops.post(change_url(gold), rendered(ops.get(change_url(gold))))
        assert response.status_code == 403
        assert ops.post(change_url(v1), {"_action": "publish", "confirm": "yes"}).status_code == 403
        assert criteria_rows(gold) == [(Kind.WON_REVENUE, None, Decimal("250000.00"), True)]

    @pytest.mark.parametrize("role", [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE])
    def test_other_staff_roles_may_not_change(self, world, tiers, ops, role):
        published_v1(world, tiers)
        draft = start_draft(ops)
        client = world.client(role)
        assert client.get(change_url(draft)).status_code == 200  # they read it
        for action in ("publish", "discard"):
            response = client.post(change_url(draft), {"_action": action, "confirm": "yes"})
            assert response.status_code == 403
        add = reverse("tenant_admin:program_criteriaversion_add")
        assert client.post(add, {"note": "x"}).status_code == 403
        assert client.get(reverse(SIMULATE)).status_code == 403
        assert CriteriaVersion.objects.get(pk=draft.pk).status == Status.DRAFT

    def test_another_tenant_gets_404(self, world, tiers, ops, globex):
        published_v1(world, tiers)
        draft = start_draft(ops)
        intruder = globex.client(Role.OPS_ADMIN)
        for url in (change_url(draft), change_url(draft.targets.first())):
            assert intruder.get(url).status_code == 404
        response = intruder.post(change_url(draft), {"_action": "publish", "confirm": "yes"})
        assert response.status_code == 404
        assert CriteriaVersion.objects.get(pk=draft.pk).status == Status.DRAFT
