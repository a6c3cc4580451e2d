"""A partner's onboarding through the API: the agreement versions it
accepted and its onboarding plan with the progress the portal shows."""

import datetime as dt
import itertools

import pytest

from onboarding import plans
from onboarding.models import PlanStep, StepKind
from prm.tenancy.roles import Role
from tests.onboarding import builders_agreements as ab
from tests.onboarding import builders_plans as pb
from tests.onboarding import builders_training as tb

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db

ACCEPTANCES = "/api/v1/agreement-acceptances/"
PLANS = "/api/v1/onboarding-plans/"
SEQ = itertools.count(1)


def test_acceptances_partners_read_their_own(acme, globex, api):
    with acme.scope():
        version = ab.version(acme, days_ago=10)
        ours = ab.accept(acme, version)
        theirs = pb.accept(acme, version.agreement, at=ours.accepted_at, partner=acme.other_partner)
    partner = api(acme, Role.PARTNER_USER)
    listed = partner.get(ACCEPTANCES).json()["results"]
    assert [a["id"] for a in listed] == [str(ours.pk)]
    body = listed[0]
    assert body["agreement"] == {"id": str(version.agreement_id), "title": version.agreement.title}
    assert body["version"]["number"] == version.number
    assert body["typed_name"] == "Pat Partner" and body["ip_address"] == "198.51.100.7"
    assert body["content_sha256"] == version.content_sha256
    assert partner.get(f"{ACCEPTANCES}{theirs.pk}/").status_code == 404
    staff = api(acme, Role.EXECUTIVE)
    assert len(staff.get(ACCEPTANCES).json()["results"]) == 2
    only = staff.get(ACCEPTANCES, {"partner": str(acme.other_partner.pk)}).json()["results"]
    assert [a["id"] for a in only] == [str(theirs.pk)]
    _, token = make_key(globex, Role.OPS_ADMIN)
    assert ApiClient(globex.host, token).get(f"{ACCEPTANCES}{ours.pk}/").status_code == 404


def test_a_partners_plan_with_the_portals_progress(acme, api):
    today = acme.tenant.local_today()
    with acme.scope():
        template = pb.template(
            acme,
            [
                pb.step(StepKind.CUSTOM, "Add your team", due_days=5),
                pb.step(StepKind.KICKOFF, owner="channel_manager", due_days=10),
                pb.step(StepKind.CUSTOM, "Optional extras", due_days=20, required=False),
            ],
        )
        plan = pb.start(acme, template, now=pb.noon(acme, today - dt.timedelta(days=7)))
        team = plan.steps.get(title="Add your team")
        kickoff = plan.steps.get(kind=StepKind.KICKOFF)
        plans.tick(kickoff, by=acme[Role.CHANNEL_MANAGER], note="Held on Monday")
        expected = plans.progress(plan, today=today)
    partner = api(acme, Role.PARTNER_ADMIN)
    [body] = partner.get(PLANS).json()["results"]
    assert body["id"] == str(plan.pk) and body["status"] == "active"
    assert body["progress"] == {
        "percent": expected.percent,
        "required_steps": 2,
        "done_steps": 1,
        "next_step": str(team.pk),
        "overdue_steps": [str(team.pk)],
        "days_left": expected.days_left,
    }
    assert expected.percent == 50
    assert [s["title"] for s in body["steps"]] == [
        "Add your team",
        "Attend a kickoff call",
        "Optional extras",
    ]
    done = body["steps"][1]
    assert done["completed_by"]["email"] == acme[Role.CHANNEL_MANAGER].user.email
    assert done["source"] == PlanStep.Source.MANUAL
    assert partner.get(f"{PLANS}{plan.pk}/").json() == body


def test_another_partners_plan_is_404_staff_read_all_in_constant_queries(
    acme, api, django_assert_max_num_queries
):
    with acme.scope():
        template = pb.full_template(acme)
        other = pb.start(acme, template, partner=acme.other_partner)
    assert api(acme, Role.PARTNER_USER).get(f"{PLANS}{other.pk}/").status_code == 404
    assert api(acme, Role.PARTNER_USER).get(PLANS).json()["results"] == []
    staff = api(acme, Role.FINANCE)
    with django_assert_max_num_queries(12) as few:
        assert len(staff.get(PLANS).json()["results"]) == 1
    with acme.scope():
        pb.start(acme, template)
    with django_assert_max_num_queries(len(few.captured_queries)):
        results = staff.get(PLANS).json()["results"]
    assert len(results) == 2 and all(len(p["steps"]) == 8 for p in results)


def test_acceptances_and_the_catalogue_list_in_constant_queries(
    acme, api, django_assert_max_num_queries
):
    client = api(acme, Role.OPS_ADMIN)

    def add(n):
        with acme.scope():
            for _ in range(n):
                ab.accept(acme, ab.version(acme, ab.agreement(acme, title=f"Terms {next(SEQ)}")))
                course = tb.course(acme, code=f"c-{next(SEQ)}")
                tb.certification(acme, code=f"cert-{next(SEQ)}", courses=[course])

    add(1)
    few = {}
    for url in (ACCEPTANCES, "/api/v1/certifications/"):
        with django_assert_max_num_queries(12) as counted:
            assert len(client.get(url).json()["results"]) == 1
        few[url] = len(counted.captured_queries)
    add(3)
    for url, count in few.items():
        with django_assert_max_num_queries(count):
            assert len(client.get(url).json()["results"]) == 4
