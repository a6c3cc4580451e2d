"""The program admin's operations: the review policy (ops only), Evaluate
now (asked first; a refusal changes nothing), holds (made through
holds.hold with its refusals as form errors, released from the page or the
list) and the tier history list and partner panel; other roles get 403,
another tenant 404."""

import datetime as dt

import pytest
from django.urls import reverse

from partners import tiers as tier_history
from partners.models import TierChange
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role
from program.evaluation import Trigger, evaluate
from program.models import Evaluation, QualificationSettings, TierHold

from . import builders as b
from .admin_forms import errors
from .builders import TODAY

pytestmark = pytest.mark.django_db
Kind = b.Kind
EVALUATE = "tenant_admin:program_evaluation_evaluate"
EVALUATIONS = "tenant_admin:program_evaluation_changelist"
HOLD_ADD = "tenant_admin:program_tierhold_add"
HOLDS = "tenant_admin:program_tierhold_changelist"
HISTORY = "tenant_admin:partners_tierchange_changelist"
NOT_OPS = [Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE]


def revenue_ladder(world, tiers):
    return b.version(
        world,
        {
            tiers["Silver"]: (0, [(Kind.WON_REVENUE, "100000", True, None)]),
            tiers["Gold"]: (0, [(Kind.WON_REVENUE, "250000", True, None)]),
        },
    )


def make_silver(world, tiers):
    """The other partner starts at Silver."""
    tier_history.set_tier(
        world.other_partner, tiers["Silver"], by=None, reason=TierChange.Reason.MANUAL, note=""
    )


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"tenant_admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


class TestPolicy:
    def test_ops_change_it_and_it_is_audited(self, world, ops):
        url = reverse("tenant_admin:program_qualificationsettings_changelist")
        data = {
            "schedule": "monthly",
            "review_day": "5",
            "upgrades": "at_review",
            "grace_days": "60",
            "notice_days": "14",
        }
        response = ops.post(url, data)
        assert response.status_code == 302, errors(response)
        policy = QualificationSettings.for_tenant(world.tenant)
        assert (policy.schedule, policy.review_day, policy.grace_days) == ("monthly", 5, 60)
        assert AuditEntry.objects.filter(action="program.settings_changed").exists()

    def test_a_review_day_past_28_is_refused(self, world, ops):
        url = reverse("tenant_admin:program_qualificationsettings_changelist")
        response = ops.post(
            url,
            {
                "schedule": "monthly",
                "review_day": "31",
                "upgrades": "at_once",
                "grace_days": "90",
                "notice_days": "30",
            },
        )
        assert response.status_code == 200 and errors(response)
        assert QualificationSettings.for_tenant(world.tenant).review_day == 1

    @pytest.mark.parametrize("role", NOT_OPS)
    def test_other_staff_read_only(self, world, role):
        url = reverse("tenant_admin:program_qualificationsettings_changelist")
        client = world.client(role)
        assert client.get(url).status_code == 200
        data = {
            "schedule": "monthly",
            "review_day": "5",
            "upgrades": "at_once",
            "grace_days": "1",
            "notice_days": "30",
        }
        assert client.post(url, data).status_code == 403
        assert QualificationSettings.for_tenant(world.tenant).grace_days == 90


class TestEvaluateNow:
    def test_asks_then_runs_and_says_what_moved(self, world, tiers, ops):
        revenue_ladder(world, tiers)
        make_silver(world, tiers)
        b.win(world, world.other_partner, "300000", on=TODAY)  # Silver -> Gold
        page = ops.get(reverse(EVALUATE))
        assert page.status_code == 200 and b"Evaluate every partner now?" in page.content
        assert not Evaluation.objects.exists()
        response = ops.post(reverse(EVALUATE), {"confirm": "yes"}, follow=True)
        run = Evaluation.objects.get()
        assert (run.trigger, run.by, run.upgrades) == (
            Trigger.ON_DEMAND,
            world[Role.OPS_ADMIN].user,
            1,
        )
        assert "1 partner moved up" in response.content.decode()
        world.other_partner.refresh_from_db()
        assert world.other_partner.tier == tiers["Gold"]

    def test_without_published_criteria_nothing_changes(self, world, tiers, ops):
        response = ops.post(reverse(EVALUATE), {"confirm": "yes"}, follow=True)
        assert b"Publish the tier criteria before evaluating partners." in response.content
        assert not Evaluation.objects.exists()
        assert not TierChange.objects.filter(effective_on=TODAY).exists()

    def test_the_log(self, world, tiers, ops, django_assert_max_num_queries):
        revenue_ladder(world, tiers)
        for _ in range(3):
            evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        with django_assert_max_num_queries(25):
            page = ops.get(reverse(EVALUATIONS))
        assert page.status_code == 200
        assert page.context["cl"].result_count == 3
        assert b"Evaluate now" in page.content

    @pytest.mark.parametrize("role", NOT_OPS)
    def test_other_roles_may_not(self, world, tiers, role):
        revenue_ladder(world, tiers)
        client = world.client(role)
        assert client.get(reverse(EVALUATIONS)).status_code == 200
        assert client.get(reverse(EVALUATE)).status_code == 403
        assert client.post(reverse(EVALUATE), {"confirm": "yes"}).status_code == 403
        assert not Evaluation.objects.exists()


class TestHolds:
    def hold_data(self, world, held_in, **extra):
        return {
            "partner": str(world.other_partner.pk),
            "tier": str(held_in.pk),
            "reason": "Strategic account through a bad quarter",
            "ends_on": "2026-09-30",
            **extra,
        }

    def test_hold_then_release(self, world, tiers, ops):
        response = ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Platinum"]))
        assert response.status_code == 302, errors(response)
        row = TierHold.objects.get()
        assert (row.tier, row.ends_on, row.created_by) == (
            tiers["Platinum"],
            dt.date(2026, 9, 30),
            world[Role.OPS_ADMIN].user,
        )
        world.other_partner.refresh_from_db()
        assert world.other_partner.tier == tiers["Platinum"]
        assert TierChange.objects.filter(partner=world.other_partner, reason="hold").exists()

        page = ops.get(change_url(row))
        assert page.status_code == 200 and b'data-testid="release"' in page.content
        response = ops.post(change_url(row), {"_action": "release"})
        assert response.status_code == 302
        row.refresh_from_db()
        assert row.released_on == TODAY and row.released_by == world[Role.OPS_ADMIN].user
        assert ops.post(change_url(row), {"_action": "release"}).status_code == 403

    @pytest.mark.parametrize(
        ("change", "field", "message"),
        [
            ({"reason": "  "}, "reason", "required"),
            ({"ends_on": "2026-06-14"}, "ends_on", "today"),
            ({"ends_on": "soon"}, "ends_on", "valid date"),
            ({"tier": "abc"}, "tier", "not a valid UUID"),
        ],
    )
    def test_bad_inputs_change_nothing(self, world, tiers, ops, change, field, message):
        before = world.other_partner.tier_id
        response = ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"], **change))
        assert response.status_code == 200
        form = response.context["adminform"].form
        assert any(message in e for e in form.errors.get(field, [])), form.errors
        assert not TierHold.objects.exists()
        world.other_partner.refresh_from_db()
        assert world.other_partner.tier_id == before

    def test_a_second_open_hold_is_refused(self, world, tiers, ops):
        assert ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"])).status_code == 302
        response = ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Platinum"]))
        assert response.status_code == 200
        assert "release that hold first" in " ".join(errors(response))
        assert TierHold.objects.count() == 1
        world.other_partner.refresh_from_db()
        assert world.other_partner.tier == tiers["Gold"]

    def test_release_from_the_list_and_filters(self, world, tiers, ops):
        ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"]))
        row = TierHold.objects.get()
        response = ops.post(
            reverse(HOLDS), {"action": "release_selected", "_selected_action": [str(row.pk)]}
        )
        assert response.status_code == 302
        row.refresh_from_db()
        assert row.released_on == TODAY
        assert ops.get(reverse(HOLDS), {"state": "open"}).context["cl"].result_count == 0
        assert ops.get(reverse(HOLDS), {"state": "ended"}).context["cl"].result_count == 1

    @pytest.mark.parametrize("role", NOT_OPS)
    def test_other_staff_view_only(self, world, tiers, ops, role):
        ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"]))
        row = TierHold.objects.get()
        client = world.client(role)
        assert client.get(reverse(HOLDS)).status_code == 200
        assert client.get(change_url(row)).status_code == 200
        assert (
            client.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"])).status_code == 403
        )
        assert client.post(change_url(row), {"_action": "release"}).status_code == 403
        row.refresh_from_db()
        assert row.released_on is None

    def test_another_tenant_gets_404(self, world, tiers, ops, globex):
        ops.post(reverse(HOLD_ADD), self.hold_data(world, tiers["Gold"]))
        row = TierHold.objects.get()
        intruder = globex.client(Role.OPS_ADMIN)
        assert intruder.get(change_url(row)).status_code == 404
        assert intruder.post(change_url(row), {"_action": "release"}).status_code == 404
        row.refresh_from_db()
        assert row.released_on is None


class TestTierHistory:
    def test_list_filters_and_partner_panel(self, world, tiers, ops, django_assert_max_num_queries):
        revenue_ladder(world, tiers)
        make_silver(world, tiers)
        b.win(world, world.other_partner, "300000", on=TODAY)
        evaluate(world.tenant, trigger=Trigger.ON_DEMAND)
        with django_assert_max_num_queries(25):
            page = ops.get(reverse(HISTORY))
        assert page.status_code == 200
        assert page.context["cl"].result_count == TierChange.objects.count()
        ups = ops.get(reverse(HISTORY), {"reason__exact": "upgrade"}).context["cl"]
        assert [c.partner for c in ups.result_list] == [world.other_partner]
        found = ops.get(reverse(HISTORY), {"q": "Distributor"}).context["cl"]
        assert found.result_list and all(
            c.partner == world.other_partner for c in found.result_list
        )
        partner_page = ops.get(change_url(world.other_partner))
        html = partner_page.content.decode()
        assert 'data-testid="tier-history"' in html and "Qualified for a higher tier" in html

    @pytest.mark.parametrize("role", [*NOT_OPS, Role.OPS_ADMIN])
    def test_read_only_for_staff(self, world, role):
        change = TierChange.objects.filter(partner=world.partner).first()
        client = world.client(role)
        assert client.get(reverse(HISTORY)).status_code == 200
        assert client.get(change_url(change)).status_code == 200
        assert client.post(change_url(change), {"note": "x"}).status_code == 403

    def test_partner_roles_and_other_tenant(self, world, globex):
        change = TierChange.objects.filter(partner=world.partner).first()
        assert world.client(Role.PARTNER_ADMIN).get(reverse(HISTORY)).status_code == 403
        assert globex.client(Role.OPS_ADMIN).get(change_url(change)).status_code == 404
