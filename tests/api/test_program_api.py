"""The partner program through the API: a partner's tier progress (what
the portal's tier progress page shows, live) and compliance reviews
(read; submit, sign off, return through the services) with their
compliance_review.* webhook events."""

import datetime as dt

import pytest
import time_machine

from partners.models import TierChange
from prm.tenancy.roles import Role
from program import progress
from program.models import ComplianceReview, TierHold, TierStanding
from tests import factories
from tests.program import builders as b
from tests.program import builders_compliance as cb

from .conftest import ApiClient, make_key
from .hooks_onboarding import sent, subscribe

pytestmark = pytest.mark.django_db

PROGRESS = "/api/v1/tier-progress/"
REVIEWS = "/api/v1/compliance-reviews/"


@pytest.fixture
def world(acme):
    """acme on the program tests' day, its partners joined long before."""
    with acme.scope(), time_machine.travel(b.noon(b.TODAY), tick=False):
        TierChange.objects.update(effective_on=dt.date(2025, 1, 1))
        yield acme


@pytest.fixture
def tiers(world):
    return b.ladder(world)


@pytest.fixture
def two_of_three(world, tiers):
    """A Silver partner; Gold needs 3 certified engineers, it has 2."""
    cert = b.engineering(world)
    b.engineers_ladder(world, tiers, cert, gold=3)
    b.at_tier(world, world.partner, tiers["Silver"])
    b.certify(world, [world[Role.PARTNER_ADMIN], world[Role.PARTNER_USER]], cert)
    return cert


class TestTierProgress:
    def test_the_partner_reads_its_progress_as_the_page_shows_it(
        self, world, tiers, two_of_three, api
    ):
        expected = progress.build(world.partner)
        client = api(world, Role.PARTNER_USER)
        response = client.get(f"{PROGRESS}{world.partner.pk}/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["headline"] == expected.headline == "1 more certified engineer to Gold"
        assert body["tier"]["name"] == "Silver" and body["criteria_published"] is True
        nxt = body["next"]
        assert nxt["tier"]["name"] == "Gold" and nxt["qualifies"] is False
        assert nxt["still_to_do"] == ["1 more certified engineer"]
        [criterion] = nxt["criteria"]
        assert criterion["kind"] == "certified" and criterion["certification"] == str(
            two_of_three.pk
        )
        assert (criterion["value"], criterion["threshold"]) == ("2", "3.00")
        assert criterion["met"] is False and criterion["share"] == 66
        assert criterion["standing"] == expected.next.lines[0].standing
        assert body["keep"]["tier"]["name"] == "Silver" and body["keep"]["qualifies"] is True
        assert [r["tier"]["name"] for r in body["ladder"]] == [
            "Platinum",
            "Gold",
            "Silver",
            "Registered",
        ]
        assert [r["current"] for r in body["ladder"]] == [False, False, True, False]
        assert body["history"][0]["tier"]["name"] == "Silver"
        assert body["history"][0]["reason"] == TierChange.Reason.MANUAL
        assert body["hold"] is None and body["grace"] is None
        again = client.get(f"{PROGRESS}{world.partner.pk}/", **{"If-None-Match": response["ETag"]})
        assert again.status_code == 304

    def test_another_partner_is_404_staff_read_any_with_the_holds_reason(
        self, world, tiers, two_of_three, api, globex
    ):
        TierHold.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            tier=tiers["Silver"],
            reason="Strategic account during the merger",
            starts_on=b.TODAY - dt.timedelta(days=5),
            ends_on=b.TODAY + dt.timedelta(days=60),
        )
        TierStanding.objects.create(
            tenant=world.tenant,
            partner=world.partner,
            qualifying_tier=tiers["Silver"],
            evaluated_on=b.TODAY - dt.timedelta(days=3),
            evaluated_at=b.noon(b.TODAY - dt.timedelta(days=3)),
        )
        partner = api(world, Role.PARTNER_ADMIN)
        assert partner.get(f"{PROGRESS}{world.other_partner.pk}/").status_code == 404
        own = partner.get(f"{PROGRESS}{world.partner.pk}/").json()
        assert own["hold"] == {
            "tier": {"id": str(tiers["Silver"].pk), "name": "Silver", "rank": 2},
            "starts_on": str(b.TODAY - dt.timedelta(days=5)),
            "ends_on": str(b.TODAY + dt.timedelta(days=60)),
        }
        assert own["last_evaluation"]["evaluated_on"] == str(b.TODAY - dt.timedelta(days=3))
        staff = api(world, Role.FINANCE).get(f"{PROGRESS}{world.partner.pk}/").json()
        assert staff["hold"]["reason"] == "Strategic account during the merger"
        other = api(world, Role.CHANNEL_MANAGER).get(f"{PROGRESS}{world.other_partner.pk}/")
        assert other.status_code == 200 and other.json()["tier"]["name"] == "Gold"
        assert (
            api(world, Role.OPS_ADMIN, ["partners:read"])
            .get(f"{PROGRESS}{world.partner.pk}/")
            .status_code
            == 403
        )
        _, token = make_key(globex, Role.OPS_ADMIN)
        intruder = ApiClient(globex.host, token)
        assert intruder.get(f"{PROGRESS}{world.partner.pk}/").status_code == 404

    def test_no_published_criteria(self, world, tiers, api):
        body = api(world, Role.PARTNER_USER).get(f"{PROGRESS}{world.partner.pk}/").json()
        assert body["criteria_published"] is False
        assert body["next"] is None and body["keep"] is None
        assert body["headline"] == "You are in Gold: tiers are assigned by the vendor"


class TestComplianceReviews:
    def test_partners_read_their_own_staff_all_in_constant_queries(
        self, world, api, django_assert_max_num_queries
    ):
        ours = cb.review(world)
        theirs = cb.overdue(world, world.other_partner)
        partner = api(world, Role.PARTNER_USER)
        assert [r["id"] for r in partner.get(REVIEWS).json()["results"]] == [str(ours.pk)]
        assert partner.get(f"{REVIEWS}{theirs.pk}/").status_code == 404
        item = cb.item(world)
        cb.ready(world, ours, [item])
        staff = api(world, Role.EXECUTIVE)
        late = staff.get(REVIEWS, {"overdue": "true"}).json()["results"]
        assert [r["id"] for r in late] == [str(theirs.pk)]
        with django_assert_max_num_queries(14) as few:
            assert len(staff.get(REVIEWS).json()["results"]) == 2
        for name in ("Third Partner", "Fourth Partner"):
            more = factories.make_partner(world.tenant, name, tier=world.partner.tier)
            cb.review(world, more)
        with django_assert_max_num_queries(len(few.captured_queries)):
            results = staff.get(REVIEWS).json()["results"]
        assert len(results) == 4
        answered = next(r for r in results if r["id"] == str(ours.pk))
        assert answered["answers"][0]["attested_name"] == "Pat Admin"
        assert answered["tax_document"]["name"] == "w9.pdf"

    def test_the_partner_admin_submits_when_ready(self, world, api):
        subscribe(world, "compliance_review.submitted")
        found = cb.review(world)
        admin = api(world, Role.PARTNER_ADMIN)
        early = admin.post(f"{REVIEWS}{found.pk}/submit/")
        assert early.status_code == 409
        assert "Still to do" in early.json()["detail"]
        assert sent(world, "compliance_review.submitted") == []
        assert api(world, Role.PARTNER_USER).post(f"{REVIEWS}{found.pk}/submit/").status_code == 403
        cb.ready(world, found)
        done = admin.post(f"{REVIEWS}{found.pk}/submit/", **{"Idempotency-Key": "submit-1"})
        assert done.status_code == 200, done.content
        body = done.json()
        assert body["status"] == "submitted" and body["submitted_by"]["email"] == (
            world[Role.PARTNER_ADMIN].user.email
        )
        assert {c["key"] for c in body["checks"]} >= {"agreements", "profile", "tax"}
        replay = admin.post(f"{REVIEWS}{found.pk}/submit/", **{"Idempotency-Key": "submit-1"})
        assert replay.json() == body and replay["Idempotent-Replayed"] == "true"
        assert admin.post(f"{REVIEWS}{found.pk}/submit/").status_code == 200  # no change
        [event] = sent(world, "compliance_review.submitted")
        assert event.data == admin.get(f"{REVIEWS}{found.pk}/").json() == body

    def test_the_channel_manager_signs_off_its_partners_review(self, world, api):
        subscribe(world, "compliance_review.signed_off", "compliance_review.returned")
        ours = cb.submitted(world)
        theirs = cb.review(world, world.other_partner)
        # Submitted by its own partner admin (the world has none of that partner).
        ComplianceReview.objects.filter(pk=theirs.pk).update(
            status=ComplianceReview.Status.SUBMITTED, submitted_at=b.noon(b.TODAY)
        )
        cm = api(world, Role.CHANNEL_MANAGER)
        assert cm.post(f"{REVIEWS}{theirs.pk}/sign-off/", {}).status_code == 403
        assert api(world, Role.PARTNER_ADMIN).post(f"{REVIEWS}{ours.pk}/sign-off/").status_code == (
            403
        )
        done = cm.post(f"{REVIEWS}{ours.pk}/sign-off/", {"note": "All in order."})
        assert done.status_code == 200, done.content
        assert done.json()["status"] == "signed_off" and done.json()["note"] == "All in order."
        [event] = sent(world, "compliance_review.signed_off")
        assert event.data == done.json()
        late = cm.post(f"{REVIEWS}{ours.pk}/return/", {"reason": "Wrong form"})
        assert late.status_code == 409
        assert sent(world, "compliance_review.returned") == []
        ops = api(world, Role.OPS_ADMIN)
        blank = ops.post(f"{REVIEWS}{theirs.pk}/return/", {"reason": " "})
        assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
        assert sent(world, "compliance_review.returned") == []
        returned = ops.post(f"{REVIEWS}{theirs.pk}/return/", {"reason": "Upload this year's W-9."})
        assert returned.status_code == 200
        [event] = sent(world, "compliance_review.returned")
        assert event.data["status"] == ComplianceReview.Status.RETURNED
        assert event.data["note"] == "Upload this year's W-9."
