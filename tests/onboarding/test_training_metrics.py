"""Training's figures, read through the declarations: certified people,
certifications expiring, training completion, the certification-coverage
part of the health score; filters, and the other tenant never counts."""

import datetime as dt
from decimal import Decimal

import pytest

from onboarding.models import TrainingRecord
from prm.tenancy import registry
from prm.tenancy.declarations import Filters, Period, Reading
from prm.tenancy.models import Membership
from prm.tenancy.roles import Role
from tests import factories
from tests.metric_probe import compute

from . import builders_training as b

pytestmark = pytest.mark.django_db
D = Decimal
CERTIFIED = "onboarding.certified_people"
EXPIRING = "onboarding.certifications_expiring"
COMPLETION = "onboarding.training_completion"
COVERAGE = "onboarding.certification_coverage"


def days(world, n: int) -> dt.date:
    return world.tenant.local_today() + dt.timedelta(days=n)


def earned(
    world, cert, person, on: int, expires: int | None = None, *, backdate: bool = True
) -> TrainingRecord:
    """``person`` earned ``cert`` ``on`` days from today (negative: ago),
    recorded and confirmed that day (``backdate``) or now."""
    row = b.earned(world, cert, person=person, on=days(world, on))
    if backdate:
        then = dt.datetime.combine(row.completed_on, dt.time(12), tzinfo=world.tenant.tzinfo)
        TrainingRecord.objects.filter(pk=row.pk).update(recorded_at=then, decided_at=then)
    if expires is not None:
        TrainingRecord.objects.filter(pk=row.pk).update(expires_on=days(world, expires))
    return row


@pytest.fixture
def training(acme, globex):
    """acme.partner: the partner user holds "Certified Sales Professional"
    (required of everyone) since 100 days ago; the partner admin
    "Certified Engineer" (for technical people only: required of nobody)
    since 50 days ago; a colleague who left holds the first too (does not
    count). acme.other_partner: one person whose sales certification
    expired 10 days ago, and a pending one expiring in the last 30 days
    (never counts). Everyone's account is a year old. globex: its partner
    user holds its own sales certification (never counts in acme)."""
    with acme.scope():
        csp = b.certification(acme, code="csp", name="Certified Sales Professional")
        ce = b.certification(acme, code="ce", functions=["technical"])
        colleague = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="x@acme.test"
        )
        left = factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.partner, email="left@acme.test"
        )
        earned(acme, csp, acme[Role.PARTNER_USER], -100)
        earned(acme, ce, acme[Role.PARTNER_ADMIN], -50)
        earned(acme, csp, left, -100)
        earned(acme, csp, colleague, -700, expires=-10)
        pending = earned(acme, ce, colleague, -300, expires=-5)
        TrainingRecord.objects.filter(pk=pending.pk).update(status=TrainingRecord.Status.PENDING)
        Membership.objects.filter(pk=left.pk).update(is_active=False)
        Membership.objects.update(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    with globex.scope():
        gcsp = b.certification(globex, code="csp", name="Certified Sales Professional")
        earned(globex, gcsp, globex[Role.PARTNER_USER], -100)
        Membership.objects.update(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=365))
    return {"csp": csp, "ce": ce, "colleague": colleague}


def last(world, n: int) -> Period:
    """The ``n`` days up to today."""
    return Period(days(world, -n + 1), days(world, 0))


def test_certified_people_at_the_period_end(acme, training):
    assert compute(acme, CERTIFIED, last(acme, 30)) == 2  # user and admin
    # 20 days ago the colleague's certification still counted.
    assert compute(acme, CERTIFIED, Period(days(acme, -40), days(acme, -20))) == 3
    # It stops counting on its expiry day.
    assert compute(acme, CERTIFIED, Period(days(acme, -11), days(acme, -11))) == 3
    assert compute(acme, CERTIFIED, Period(days(acme, -10), days(acme, -10))) == 2
    # Before the user earned theirs, only the colleague; before that, nobody.
    assert compute(acme, CERTIFIED, Period(days(acme, -200), days(acme, -150))) == 1
    assert compute(acme, CERTIFIED, Period(days(acme, -800), days(acme, -701))) == 0


def test_certifications_expiring_in_the_period(acme, training):
    assert compute(acme, EXPIRING, last(acme, 30)) == 1  # the pending one does not count
    assert compute(acme, EXPIRING, Period(days(acme, -10), days(acme, -10))) == 1
    assert compute(acme, EXPIRING, Period(days(acme, -9), days(acme, 0))) == 0
    # The user's, earned 100 days ago for two years, expires later.
    year = Period(days(acme, 1), days(acme, 800))
    assert compute(acme, EXPIRING, year) == 3  # user, admin, the one who left


def test_training_completion(acme, training):
    # Required of everyone: the sales certification (the engineer's is for
    # technical people). Of the user, admin and colleague, the user holds it.
    assert compute(acme, COMPLETION, last(acme, 30)) == D("33.3")
    assert compute(acme, COMPLETION, Period(days(acme, -40), days(acme, -20))) == D("66.7")
    # People as they are now: long ago only the colleague held it.
    assert compute(acme, COMPLETION, Period(days(acme, -400), days(acme, -370))) == D("33.3")
    assert compute(acme, COMPLETION, Period(days(acme, -800), days(acme, -701))) == D("0.0")
    with acme.scope():
        training["ce"].functions = []
        training["ce"].save()
    # Now both are required: nobody holds both.
    assert compute(acme, COMPLETION, last(acme, 30)) == D("0.0")
    with acme.scope():
        from onboarding.models import Certification

        Certification.objects.update(functions=["sales"])
    assert compute(acme, COMPLETION, last(acme, 30)) is None  # nothing required


def test_filters_apply_to_the_partner(acme, training):
    mine = Filters(channel_manager=acme[Role.CHANNEL_MANAGER].user.pk)  # acme.partner only
    msp = Filters(partner_type="msp")  # nobody
    period = last(acme, 30)
    assert compute(acme, CERTIFIED, period, mine) == 2
    assert compute(acme, COMPLETION, period, mine) == D("50.0")
    assert compute(acme, EXPIRING, period, mine) == 0
    assert compute(acme, CERTIFIED, period, msp) == 0
    assert compute(acme, COMPLETION, period, msp) is None
    assert compute(acme, EXPIRING, Period(days(acme, -10), days(acme, 0)), msp) == 0


def test_the_other_tenant_never_counts(acme, globex, training):
    assert compute(globex, CERTIFIED, last(globex, 30)) == 1
    assert compute(globex, EXPIRING, last(globex, 30)) == 0
    assert compute(globex, COMPLETION, last(globex, 30)) == D("50.0")  # user of user, admin


def coverage(world, day, partners) -> dict:
    component = registry.health_components()[COVERAGE]
    assert component.default_weight == 10
    with world.scope():
        return component.compute(world.tenant, day, [p.pk for p in partners])


def test_certification_coverage_per_partner_as_of_a_day(acme, globex, training):
    empty = None
    with acme.scope():
        empty = factories.make_partner(acme.tenant, "Nobody Here")
    partners = [acme.partner, acme.other_partner, empty]
    found = coverage(acme, days(acme, 0), partners)
    assert found == {
        acme.partner.pk: Reading(D("1.000"), "2 of 2 people hold a valid certification"),
        acme.other_partner.pk: Reading(D("0.000"), "0 of 1 person hold a valid certification"),
    }  # the partner without people has no data
    day = days(acme, -20)
    assert coverage(acme, day, partners)[acme.other_partner.pk].value == D("1.000")
    # Before the admin earned theirs: half of acme.partner.
    assert coverage(acme, days(acme, -60), partners)[acme.partner.pk].value == D("0.500")
    assert coverage(globex, days(globex, 0), [globex.partner]) == {
        globex.partner.pk: Reading(D("0.500"), "1 of 2 people hold a valid certification")
    }


def test_coverage_reads_only_what_was_known_by_the_day(acme, training):
    """A certification entered today, earned a month ago, does not change
    what yesterday's reading said; a person who joined today neither."""
    yesterday = days(acme, -1)
    with acme.scope():
        earned(acme, training["csp"], training["colleague"], -30, backdate=False)
        factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="new@acme.test"
        )
    before = coverage(acme, yesterday, [acme.other_partner])
    assert before[acme.other_partner.pk].why == "0 of 1 person hold a valid certification"
    now = coverage(acme, days(acme, 0), [acme.other_partner])
    assert now[acme.other_partner.pk].why == "1 of 2 people hold a valid certification"


def test_the_counts_drill_into_the_records_they_count(acme, training):
    from tests.metric_probe import drill, listed, rows

    for key, period in (
        (CERTIFIED, last(acme, 30)),
        (EXPIRING, Period(days(acme, 1), days(acme, 800))),
    ):
        expected = rows(acme, key, period)
        assert expected, key
        url = drill(acme, key, period)
        assert url and "/admin/onboarding/trainingrecord/" in url
        assert listed(acme, Role.OPS_ADMIN, url) == expected, key
