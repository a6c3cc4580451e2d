"""Each app declares itself in one place (``<app>/declare.py``) and the
foundation assembles the declarations: a test-only app (tests/declared_app)
appears in the navigation, the home cards, the permission table, the URLs,
the URL matrix, the beat schedule, the demo steps and the metrics without a
line written outside its folder; ``prm/`` imports no app."""

import ast
import io
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from prm.celery import app as celery_app
from prm.tenancy import registry
from prm.tenancy.declarations import (
    NO_FILTERS,
    Card,
    DemoContext,
    Filters,
    NavEntry,
    Period,
    PRMApp,
)
from prm.tenancy.demo import tenant_context
from prm.tenancy.roles import Role

ROOT = Path(settings.BASE_DIR)
SAMPLE = "declared_sample"


# --- The foundation imports no app ----------------------------------------------------


def first_party_packages() -> set[str]:
    return {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and path.name != "prm"
    }


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_prm_imports_no_app():
    apps = first_party_packages()
    assert {"partners", "dealreg", "incentives", "tests", "bench"} <= apps
    offenders = []
    for path in sorted((ROOT / "prm").rglob("*.py")):
        for module in imported_modules(path.read_text()):
            if module.split(".")[0] in apps:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_import_check_sees_both_kinds_of_import():
    assert imported_modules("import dealreg.models\nfrom partners import services\n") == {
        "dealreg.models",
        "partners",
    }
    assert imported_modules("from .models import Tenant\n") == set()


# --- The test-only app, everywhere --------------------------------------------------------


@pytest.mark.django_db
def test_sample_app_is_in_the_navigation_of_the_roles_that_may_use_it(acme):
    url = reverse("declared_sample:index")
    assert url == "/sample/"
    for role in (Role.OPS_ADMIN, Role.EXECUTIVE):
        assert f'href="{url}"' in acme.client(role).get("/").content.decode(), role
    for role in (Role.CHANNEL_MANAGER, Role.FINANCE, Role.PARTNER_USER):
        assert f'href="{url}"' not in acme.client(role).get("/").content.decode(), role


@pytest.mark.django_db
def test_sample_app_pages_are_served_and_guarded(acme):
    assert acme.client(Role.OPS_ADMIN).get("/sample/").content.decode() == "Samples of Acme Corp"
    assert acme.client(Role.FINANCE).get("/sample/").status_code == 403
    assert acme.client().get("/sample/").status_code == 302


@pytest.mark.django_db
def test_sample_card_shows_its_counts_on_the_home_of_those_who_may_see_it(acme):
    page = acme.client(Role.EXECUTIVE).get("/").content.decode()
    assert 'data-testid="card-declared_sample.card"' in page
    assert '<a href="/sample/?waiting=1">2 samples waiting for you</a>' in page
    page = acme.client(Role.FINANCE).get("/").content.decode()
    assert "declared_sample.card" not in page


def test_sample_permission_is_in_the_assembled_table():
    assert registry.permissions()["declared_sample.view"] == {Role.OPS_ADMIN, Role.EXECUTIVE}
    assert registry.permission_owners()["declared_sample.view"] == SAMPLE
    assert registry.role_has_perm(Role.OPS_ADMIN, "declared_sample.view")
    assert not registry.role_has_perm(Role.PARTNER_ADMIN, "declared_sample.view")


def test_permissions_command_prints_the_role_by_permission_table():
    out = io.StringIO()
    call_command("permissions", "--csv", stdout=out)
    rows = out.getvalue().splitlines()
    assert rows[0].startswith("app,permission,ops_admin,channel_manager,finance")
    assert "declared_sample,declared_sample.view,yes,,,yes,," in rows
    # Object-scoped permissions read "own" for the roles scoped to their objects.
    assert "partners,partners.change_partner,yes,own,,,," in rows
    assert len(rows) == len(registry.permissions()) + 1
    out = io.StringIO()
    call_command("permissions", "--app", SAMPLE, stdout=out)
    assert "[declared_sample]" in out.getvalue() and "[dealreg]" not in out.getvalue()


def test_sample_beat_entry_is_in_the_schedule_and_names_a_registered_task():
    celery_app.loader.import_default_modules()
    schedule = celery_app.conf.beat_schedule
    assert schedule["declared-sample-tick"] == {
        "task": "tests.declared_app.tasks.tick",
        "schedule": 900.0,
    }
    # The product's own entries come from the apps' declarations too.
    assert schedule["dealreg-sla"]["task"] == "dealreg.tasks.dispatch_sla_sweeps"
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks


def test_sample_routes_are_in_the_url_matrix():
    from tests import test_url_matrix

    assert "tests.declared_app.url_matrix" in registry.url_matrix_modules()
    assert test_url_matrix.PORTAL_ROUTES["declared_sample:index"].allowed == {
        Role.OPS_ADMIN,
        Role.EXECUTIVE,
    }
    assert "declared_sample:index" in test_url_matrix.routes("prm.urls")


@pytest.mark.django_db
def test_sample_metric_is_listed_and_computes_for_a_tenant(acme, globex):
    metric = registry.metrics()["declared_sample.partners"]
    assert metric.name == "Partners in the directory"
    period = Period(date(2020, 1, 1), date(2100, 12, 31))
    with acme.scope():
        # acme's two partners; globex's are another tenant's.
        assert metric.compute(acme.tenant, period, NO_FILTERS) == 2
    assert metric.drill(acme.tenant, period, NO_FILTERS) == "/sample/"


@pytest.mark.django_db
def test_demo_steps_run_in_dependency_order(acme):
    labels = [label for label, _step in registry.demo_steps()]
    assert labels.index("partners") < labels.index(SAMPLE)
    assert labels.index("partners") < labels.index("dealreg") < labels.index("incentives")
    assert labels.index("incentives") < labels.index("reporting")
    with acme.scope():
        ctx = tenant_context(acme.tenant)
        for label, step in registry.demo_steps():
            if label in ("partners", SAMPLE):
                step(ctx)
    assert ctx.objects["declared_sample.partners_seen"] == 35


# --- Assembly refuses mistakes ------------------------------------------------------------


@pytest.fixture
def declared(monkeypatch):
    """Replace the installed apps' declarations with the given ones."""
    cached = [
        registry.permissions,
        registry.permission_owners,
        registry.object_scoped,
        registry.navigation,
        registry.cards,
        registry.beat_schedule,
        registry.metrics,
    ]

    def use(*apps: PRMApp) -> None:
        monkeypatch.setattr(registry, "declared_apps", lambda: apps)
        for function in cached:
            function.cache_clear()

    yield use
    monkeypatch.undo()
    for function in cached:
        function.cache_clear()


def test_a_permission_declared_by_two_apps_is_refused(declared):
    declared(
        PRMApp("a", permissions={"x.do": {Role.OPS_ADMIN}}), PRMApp("b", permissions={"x.do": ()})
    )
    with pytest.raises(ImproperlyConfigured, match=r"'x\.do' is declared by both a and b"):
        registry.permissions()


def test_an_unknown_role_is_refused(declared):
    declared(PRMApp("a", permissions={"x.do": {"janitor"}}))
    with pytest.raises(ImproperlyConfigured, match="janitor"):
        registry.permissions()


def test_object_scoping_a_permission_the_role_lacks_is_refused(declared):
    declared(
        PRMApp(
            "a",
            permissions={"x.do": {Role.OPS_ADMIN}},
            object_scoped={"x.do": {Role.CHANNEL_MANAGER}},
        )
    )
    with pytest.raises(ImproperlyConfigured, match="do not hold it"):
        registry.object_scoped()


def test_a_beat_entry_declared_twice_is_refused(declared):
    entry = {"x": {"task": "a.tasks.t", "schedule": 60.0}}
    declared(PRMApp("a", beat=entry), PRMApp("b", beat=entry))
    with pytest.raises(ImproperlyConfigured, match="'x' is declared twice"):
        registry.beat_schedule()


def test_demo_steps_that_wait_on_each_other_are_refused(declared):
    declared(
        PRMApp("a", demo="tests.declared_app.demo.seed", demo_after=("b",)),
        PRMApp("b", demo="tests.declared_app.demo.seed", demo_after=("a",)),
    )
    with pytest.raises(ImproperlyConfigured, match="wait on each other"):
        registry.demo_steps()


def test_a_demo_step_after_an_app_without_one_is_refused(declared):
    declared(PRMApp("a", demo="tests.declared_app.demo.seed", demo_after=("mdf",)))
    with pytest.raises(ImproperlyConfigured, match="'mdf', which has no demo step"):
        registry.demo_steps()


def test_navigation_and_cards_keep_their_declared_order(declared):
    declared(
        PRMApp("a", nav=(NavEntry("x", "Late", (), order=900),), cards=(Card("a.c", "C", ()),)),
        PRMApp("b", nav=(NavEntry("y", "Early", (), order=5),), cards=(Card("a.c", "D", ()),)),
    )
    assert [entry.label for entry in registry.navigation()] == ["Early", "Late"]
    with pytest.raises(ImproperlyConfigured, match="share a key"):
        registry.cards()


# --- Shapes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_period_is_the_tenant_s_calendar_days(acme):
    acme.tenant.timezone = "America/New_York"
    start, after = Period(date(2026, 3, 1), date(2026, 3, 31)).bounds(acme.tenant)
    assert start.isoformat() == "2026-03-01T00:00:00-05:00"
    # Daylight saving time began on March 8th.
    assert after.isoformat() == "2026-04-01T00:00:00-04:00"
    assert Period(date(2026, 3, 1), date(2026, 3, 31)).previous() == Period(
        date(2026, 1, 29), date(2026, 2, 28)
    )
    with pytest.raises(ValueError, match="cannot end"):
        Period(date(2026, 3, 2), date(2026, 3, 1))


def test_filters_become_query_parameters():
    assert NO_FILTERS.query() == {}
    assert Filters(region=3, partner_type="msp").query() == {"region": "3", "partner_type": "msp"}


def test_a_demo_context_starts_empty():
    ctx = DemoContext(tenant=None, users={})
    assert ctx.people == {} and ctx.objects == {}
