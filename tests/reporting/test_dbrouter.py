"""The read replica (prm/dbrouter.py): reporting's reads go to it when
PRM_DB_REPLICA_HOST is set; writes, other apps and migrations stay on the
primary; a transaction, or ``primary()``, reads its own writes."""

import copy
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connections, models, transaction
from django.db.utils import load_backend
from django.test import override_settings
from django.test.utils import CaptureQueriesContext, isolate_apps

from partners.models import Partner
from prm.celery import app
from prm.dbrouter import (
    REPLICA,
    ReplicaRouter,
    primary,
    reads_from_primary,
    replica_database,
)
from prm.tenancy import registry
from prm.tenancy.declarations import NO_FILTERS, Period
from prm.tenancy.models import Tenant
from reporting import figures, rollups
from reporting.models import PartnerDay

ROOT = Path(__file__).resolve().parents[2]
PRIMARY = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "prm",
    "USER": "postgres",
    "PASSWORD": "secret",
    "HOST": "db1.internal",
    "PORT": "5432",
    "CONN_MAX_AGE": 60,
    "OPTIONS": {"connect_timeout": 5},
    "TEST": {"NAME": "test_prm"},
}


@pytest.fixture
def rollup_model():
    """A model of the reporting app shaped like a daily rollup (in an
    isolated registry: the app's real models are not needed to route)."""
    with isolate_apps("reporting"):

        class DayFigure(models.Model):
            day = models.DateField()
            won = models.DecimalField(max_digits=14, decimal_places=2)

            class Meta:
                app_label = "reporting"
                db_table = "test_dbrouter_dayfigure"

            def __str__(self) -> str:
                return f"{self.day}: {self.won}"

        yield DayFigure


# --- Settings ---------------------------------------------------------------------------


def test_no_replica_without_the_host():
    assert replica_database(PRIMARY, host="") is None
    assert replica_database(PRIMARY, host="  ", user="reader") is None


def test_the_replica_defaults_to_the_primarys_settings():
    replica = replica_database(PRIMARY, host="db2.internal")
    assert replica == {**PRIMARY, "HOST": "db2.internal", "TEST": {"MIRROR": "default"}}
    replica["OPTIONS"]["connect_timeout"] = 1
    assert PRIMARY["OPTIONS"]["connect_timeout"] == 5  # a copy, not shared
    own = replica_database(
        PRIMARY,
        host="db2.internal",
        port="6432",
        name="prm_ro",
        user="reader",
        password="other",
    )
    assert own is not None
    assert (own["HOST"], own["PORT"], own["NAME"], own["USER"], own["PASSWORD"]) == (
        "db2.internal",
        "6432",
        "prm_ro",
        "reader",
        "other",
    )


def _settings_with(environ: dict[str, str]) -> dict:
    """The production settings' databases and routers under ``environ``."""
    script = (
        "import json\n"
        "from django.conf import settings\n"
        "print(json.dumps({'databases': settings.DATABASES, "
        "'routers': getattr(settings, 'DATABASE_ROUTERS', [])}))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PRM_DB_REPLICA_")}
    env.update(environ, DJANGO_SETTINGS_MODULE="prm.settings")
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_settings_add_the_replica_and_the_router_only_when_asked():
    plain = _settings_with({})
    assert list(plain["databases"]) == ["default"]
    assert plain["routers"] == []
    replicated = _settings_with(
        {"PRM_DB_REPLICA_HOST": "db2.internal", "PRM_DB_REPLICA_USER": "reader"}
    )
    replica = replicated["databases"]["replica"]
    assert (replica["HOST"], replica["USER"]) == ("db2.internal", "reader")
    assert replica["PORT"] == replicated["databases"]["default"]["PORT"]
    assert replica["NAME"] == replicated["databases"]["default"]["NAME"]
    assert replica["TEST"] == {"MIRROR": "default"}
    assert replicated["routers"] == ["prm.dbrouter.ReplicaRouter"]


# --- The router's decisions -------------------------------------------------------------


def test_reporting_reads_go_to_the_replica(rollup_model):
    router = ReplicaRouter()
    assert not connections["default"].in_atomic_block  # no transaction open here
    assert router.db_for_read(rollup_model) == REPLICA
    assert router.db_for_read(Partner) == "default"
    assert router.db_for_read(Tenant) == "default"
    assert router.db_for_write(rollup_model) == "default"
    assert router.db_for_write(Partner) == "default"


def test_reads_inside_primary_stay_on_the_primary(rollup_model):
    router = ReplicaRouter()
    with primary():
        assert router.db_for_read(rollup_model) == "default"
        with primary():
            pass
        assert router.db_for_read(rollup_model) == "default"
    assert router.db_for_read(rollup_model) == REPLICA


def test_relations_and_migrations(rollup_model):
    router = ReplicaRouter()
    on_replica, on_primary, elsewhere = rollup_model(), Partner(), Partner()
    on_replica._state.db, on_primary._state.db, elsewhere._state.db = REPLICA, "default", "other"
    assert router.allow_relation(on_replica, on_primary) is True
    assert router.allow_relation(on_primary, on_primary) is True
    assert router.allow_relation(on_replica, elsewhere) is None
    assert router.allow_migrate("default", "reporting") is True
    assert router.allow_migrate("default", "partners", model_name="partner") is True
    assert router.allow_migrate(REPLICA, "reporting") is False
    assert router.allow_migrate(REPLICA, "tenancy", model_name="tenant") is False


# --- Against the database ---------------------------------------------------------------


@pytest.fixture
def replica_connection(transactional_db):
    """A second connection to the test database under the alias "replica"
    (what TEST MIRROR gives the suite when PRM_DB_REPLICA_HOST is set) and
    the router installed. The connection is made here rather than
    configured: the settings stay as they are for every other test."""
    settings = copy.deepcopy(connections["default"].settings_dict)
    settings["TEST"] = {**settings.get("TEST", {}), "MIRROR": "default"}
    connections[REPLICA] = load_backend(settings["ENGINE"]).DatabaseWrapper(settings, REPLICA)
    try:
        with override_settings(DATABASE_ROUTERS=["prm.dbrouter.ReplicaRouter"]):
            yield connections[REPLICA]
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]


@pytest.fixture
def replica(replica_connection, rollup_model):
    """The replica, and the rollup-like model's table."""
    with connections["default"].schema_editor() as editor:
        editor.create_model(rollup_model)
    try:
        yield rollup_model
    finally:
        with connections["default"].schema_editor() as editor:
            editor.delete_model(rollup_model)


def test_a_rollup_is_written_to_the_primary_and_read_from_the_replica(replica):
    on_primary = CaptureQueriesContext(connections["default"])
    on_replica = CaptureQueriesContext(connections[REPLICA])
    with on_primary, on_replica:
        replica.objects.create(day="2026-12-06", won="1200.00")
    assert any("INSERT" in q["sql"] for q in on_primary.captured_queries)
    assert on_replica.captured_queries == []

    with on_primary, on_replica:
        figures = list(replica.objects.all())
    assert [str(f.won) for f in figures] == ["1200.00"]
    assert figures[0]._state.db == REPLICA
    assert len(on_replica.captured_queries) == 1
    assert on_primary.captured_queries == []

    # Saving what was read from the replica writes to the primary.
    figures[0].won = "1300.00"
    with on_primary, on_replica:
        figures[0].save()
    assert any("UPDATE" in q["sql"] for q in on_primary.captured_queries)
    assert on_replica.captured_queries == []


def test_a_transaction_reads_its_own_writes_on_the_primary(replica):
    on_replica = CaptureQueriesContext(connections[REPLICA])
    with on_replica, transaction.atomic():
        replica.objects.create(day="2026-12-06", won="5.00")
        # Not committed yet: only the primary's connection can see it.
        assert replica.objects.count() == 1
    assert on_replica.captured_queries == []
    with on_replica, primary():
        assert replica.objects.count() == 1
    assert on_replica.captured_queries == []
    with on_replica:
        assert replica.objects.count() == 1
    assert len(on_replica.captured_queries) == 1


@app.task(name="tests.reporting.replica_probe")
def replica_probe() -> bool:
    return reads_from_primary()


def test_celery_tasks_read_from_the_primary(rollup_model):
    assert not reads_from_primary()
    # Run eagerly, as in the test settings: the worker sends the same signals.
    assert replica_probe.delay().get() is True
    assert not reads_from_primary()
    assert ReplicaRouter().db_for_read(rollup_model) == REPLICA
    with primary():
        assert replica_probe.delay().get() is True
        assert reads_from_primary()  # the task left the block's state alone


def test_the_dashboards_figures_are_read_from_the_replica(replica_connection, acme):
    rollups.rebuild(acme.tenant)  # a transaction: written and read on the primary
    on_primary = CaptureQueriesContext(connections["default"])
    on_replica = CaptureQueriesContext(connections[REPLICA])
    with acme.scope(), on_primary, on_replica:
        stored = PartnerDay.objects.filter(tenant_id=acme.tenant.pk).count()
        rolled_up = [k for k, m in registry.metrics().items() if m.rollup is not None]
        shown = figures.headline(
            acme.tenant,
            Period(date(2026, 10, 1), date(2026, 12, 6)),
            NO_FILTERS,
            keys=rolled_up,
            links=False,
        )
    assert stored > 0 and shown
    assert len(on_replica.captured_queries) >= 2
    assert on_primary.captured_queries == []
