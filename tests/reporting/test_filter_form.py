"""The dashboards' filter form (reporting.forms.ReportFilterForm): the period
and the filters read from the query string, kept in links."""

from datetime import UTC, date, datetime
from urllib.parse import parse_qsl

import pytest
import time_machine
from django.http import QueryDict
from django.template import Context, Template

from partners.models import Partner, Tier
from prm.tenancy.declarations import NO_FILTERS, Filters, Period
from prm.tenancy.roles import Role
from reporting.forms import ActiveFilter, ReportFilterForm
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 6)
THIS_QUARTER = Period(date(2026, 10, 1), TODAY)


def form_for(world, query: str = "", role: str = Role.EXECUTIVE, today=TODAY) -> ReportFilterForm:
    form = ReportFilterForm(
        QueryDict(query), tenant=world.tenant, today=today, membership=world[role]
    )
    form.is_valid()
    return form


def test_no_query_is_this_quarter_with_no_filters(acme):
    with acme.scope():
        form = form_for(acme)
        assert form.is_valid()
        assert form.preset == "this_quarter"
        assert form.period == THIS_QUARTER
        assert form.filters == NO_FILTERS
        assert form.label == "Q4 FY2026 to date"
        assert form.query() == "period=this_quarter"
        assert form.active_filters() == []
        # Built without data at all (the page's first visit): the same.
        bare = ReportFilterForm(tenant=acme.tenant, today=TODAY)
        assert bare.is_valid() and bare.period == THIS_QUARTER


def test_every_filter_read_and_kept_in_a_fixed_order(acme, django_assert_max_num_queries):
    with acme.scope():
        region = factories.make_region(acme.tenant, "emea", ("DE",))
        silver = Tier.objects.get(name="Silver")
        manager = acme[Role.CHANNEL_MANAGER].user
        # Parameters in any order, with empty ones.
        query = (
            f"channel_manager={manager.pk}&partner_type=msp&tier={silver.pk}"
            f"&region={region.pk}&period=last_quarter&from=&to="
        )
        with django_assert_max_num_queries(3):
            form = form_for(acme, query)
            assert form.is_valid(), form.errors
        assert form.period == Period(date(2026, 7, 1), date(2026, 9, 30))
        assert form.label == "Q3 FY2026"
        assert form.filters == Filters(
            region=region.pk, tier=silver.pk, partner_type="msp", channel_manager=manager.pk
        )
        assert form.query() == (
            f"period=last_quarter&region={region.pk}&tier={silver.pk}"
            f"&partner_type=msp&channel_manager={manager.pk}"
        )
        # The same filters asked in another order give the same link.
        again = form_for(acme, form.query())
        assert again.query() == form.query()


def test_fiscal_calendar_of_the_tenant(acme):
    acme.tenant.fiscal_year_start = 2
    acme.tenant.save()
    with acme.scope():
        form = form_for(acme, "period=this_year")
        assert form.period == Period(date(2026, 2, 1), TODAY)
        assert form.label == "FY2027 to date"


def test_custom_period(acme):
    with acme.scope():
        form = form_for(acme, "period=custom&from=2026-11-01&to=2026-11-20")
        assert form.is_valid()
        assert form.period == Period(date(2026, 11, 1), date(2026, 11, 20))
        assert form.label == "1 \u2013 20 Nov 2026"
        assert form.query() == "period=custom&from=2026-11-01&to=2026-11-20"
        # Dates alone mean a custom period.
        dated = form_for(acme, "from=2026-11-01&to=2026-11-20")
        assert dated.preset == "custom" and dated.period == form.period
        # An end after today shows the days up to today; the link keeps the end.
        ahead = form_for(acme, "period=custom&from=2026-10-01&to=2026-12-31")
        assert ahead.period == THIS_QUARTER
        assert ahead.query() == "period=custom&from=2026-10-01&to=2026-12-31"


def test_dates_beside_a_preset_are_ignored(acme):
    with acme.scope():
        form = form_for(acme, "period=last_year&from=yesterday&to=2026-01-01")
        assert form.is_valid()
        assert form.period == Period(date(2025, 1, 1), date(2025, 12, 31))
        assert form.query() == "period=last_year"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "period=custom&from=2026-12-01&to=2026-11-30",
            "to",
            "The period must end on or after it starts (1 Dec 2026).",
        ),
        ("period=custom&to=2026-11-30", "from", "Choose the first day of the period."),
        ("period=custom&from=2026-11-01", "to", "Choose the last day of the period."),
        (
            "period=custom&from=01/11/2026&to=2026-11-30",
            "from",
            "Enter a date as year-month-day, e.g. 2026-10-01.",
        ),
        (
            "period=custom&from=2027-01-01&to=2027-01-31",
            "from",
            "The period cannot start after today (6 Dec 2026): there are no figures yet.",
        ),
        (
            "period=custom&from=2020-01-01&to=2026-11-30",
            "from",
            "A period can span at most 3 years: choose a first day on or after 1 Dec 2023.",
        ),
        (
            "period=next_decade",
            "period",
            "Choose a period from the list (e.g. this quarter, custom dates).",
        ),
        ("partner_type=wholesaler", "partner_type", "Choose a partner type from the list."),
        ("region=not-an-id", "region", "Choose a region of this program."),
        ("tier=42", "tier", "Choose a tier of this program."),
    ],
)
def test_errors_are_specific_and_change_nothing(acme, query, field, message):
    with acme.scope():
        region = factories.make_region(acme.tenant, "emea", ("DE",))
        form = form_for(acme, f"{query}&region={region.pk}" if field != "region" else query)
        assert not form.is_valid()
        assert form.errors[field] == [message]
        # The default period with no filters, and links that say so.
        assert form.preset == "this_quarter"
        assert form.period == THIS_QUARTER
        assert form.filters == NO_FILTERS
        assert form.query() == "period=this_quarter"
        assert form.active_filters() == []


def test_another_programs_ids_are_refused(acme, globex):
    with globex.scope():
        their_region = factories.make_region(globex.tenant, "apac", ("JP",))
        their_tier = globex.partner.tier
        their_manager = globex[Role.CHANNEL_MANAGER].user
    with acme.scope():
        form = form_for(
            acme,
            f"region={their_region.pk}&tier={their_tier.pk}&channel_manager={their_manager.pk}",
        )
        assert not form.is_valid()
        assert form.errors["region"] == ["Choose a region of this program."]
        assert form.errors["tier"] == ["Choose a tier of this program."]
        assert form.errors["channel_manager"] == ["Choose a channel manager of this program."]
        assert form.filters == NO_FILTERS
        assert str(their_region.pk) not in form.query()
        # Their people are not even offered.
        offered = [str(pk) for pk, _ in form.fields["channel_manager"].choices if pk]
        assert str(their_manager.pk) not in offered
        assert offered == [str(acme[Role.CHANNEL_MANAGER].user.pk)]


def test_channel_managers_offered(acme):
    with acme.scope():
        gone = factories.make_member(acme.tenant, Role.CHANNEL_MANAGER, email="gone@acme.test")
        gone.user.full_name = "Aaron Gone"
        gone.user.save()
        gone.is_active = False
        gone.save()
        form = form_for(acme)
        labels = [str(label) for pk, label in form.fields["channel_manager"].choices if pk]
        # Active people first; a deactivated one still filters the partners
        # that name them, and says so. Other roles are not channel managers.
        assert labels == [str(acme[Role.CHANNEL_MANAGER].user), "Aaron Gone (deactivated)"]
        chosen = form_for(acme, f"channel_manager={gone.user.pk}")
        assert chosen.filters.channel_manager == gone.user.pk
        ops = form_for(acme, f"channel_manager={acme[Role.OPS_ADMIN].user.pk}")
        assert ops.errors["channel_manager"] == ["Choose a channel manager of this program."]


def test_query_overrides(acme):
    with acme.scope():
        region = factories.make_region(acme.tenant, "emea", ("DE",))
        form = form_for(acme, f"period=custom&from=2026-11-01&to=2026-11-20&region={region.pk}")
        assert form.query(period="last_year") == f"period=last_year&region={region.pk}"
        assert form.query(region=None) == "period=custom&from=2026-11-01&to=2026-11-20"
        assert form.query(region="") == form.query(region=None)
        assert form.query(partner_type=Partner.Type.MSP, tier=acme.partner.tier) == (
            f"period=custom&from=2026-11-01&to=2026-11-20&region={region.pk}"
            f"&tier={acme.partner.tier.pk}&partner_type=msp"
        )
        # Other parameters come after the filters, by name.
        exported = form.query(format="csv", export="partners")
        assert exported.endswith(f"region={region.pk}&export=partners&format=csv")
        # Dates alone make the period custom.
        preset = form_for(acme, "period=last_quarter")
        dated = preset.query(**{"from": date(2026, 1, 1), "to": date(2026, 3, 31)})
        assert dated == "period=custom&from=2026-01-01&to=2026-03-31"
        # Ids with characters to escape are escaped.
        assert dict(parse_qsl(form.query(note="a&b=c")))["note"] == "a&b=c"


def test_active_filters_are_chips_that_remove_themselves(acme):
    with acme.scope():
        region = factories.make_region(acme.tenant, "emea", ("DE",))
        form = form_for(acme, f"period=last_quarter&region={region.pk}&partner_type=msp")
        assert form.active_filters() == [
            ActiveFilter("Region", "EMEA", "period=last_quarter&partner_type=msp"),
            ActiveFilter(
                "Partner type",
                "Managed service provider",
                f"period=last_quarter&region={region.pk}",
            ),
        ]


@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_USER])
def test_partner_members_choose_the_period_only(acme, role):
    with acme.scope():
        region = factories.make_region(acme.tenant, "emea", ("DE",))
        query = f"period=last_year&region={region.pk}&partner_type=msp&channel_manager=x"
        form = form_for(acme, query, role=role)
        assert form.is_valid()
        assert list(form.fields) == ["period", "from", "to"]
        assert form.period == Period(date(2025, 1, 1), date(2025, 12, 31))
        assert form.filters == NO_FILTERS
        assert form.query() == "period=last_year"
        assert form.active_filters() == []


def test_today_is_the_tenants_local_date(acme):
    acme.tenant.timezone = "Pacific/Auckland"
    acme.tenant.save()
    # 12:30 UTC on 31 Dec is 1:30 on 1 Jan in Auckland: a new quarter there.
    instant = datetime(2026, 12, 31, 12, 30, tzinfo=UTC)
    with time_machine.travel(instant, tick=False), acme.scope():
        form = ReportFilterForm(QueryDict("period=this_quarter"), tenant=acme.tenant)
        assert form.is_valid()
        assert form.period == Period(date(2027, 1, 1), date(2027, 1, 1))
        last = ReportFilterForm(QueryDict("period=last_quarter"), tenant=acme.tenant)
        assert last.label == "Q4 FY2026"
        # 1 Jan 2027 is no longer in the future there.
        future = ReportFilterForm(QueryDict("from=2027-01-01&to=2027-01-01"), tenant=acme.tenant)
        assert future.is_valid(), future.errors


def test_in_a_template_the_fields_render_and_the_label_reads(acme):
    with acme.scope():
        form = form_for(acme, "period=last_quarter&partner_type=msp")
        html = Template(
            "{{ form.period }}|{{ form.from }}|{{ form.label }}|{{ form.query }}"
        ).render(Context({"form": form}))
    select, date_input, name, query = html.split("|")
    assert select.startswith('<select name="period"')
    assert '<option value="last_quarter" selected>Last quarter</option>' in select
    assert 'type="date"' in date_input and 'name="from"' in date_input
    assert name == "Q3 FY2026"
    assert query == "period=last_quarter&amp;partner_type=msp"
