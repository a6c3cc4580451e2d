"""Backups and restores (scripts/backup.sh, scripts/restore.sh), run as the
operator runs them, on the test database.

Deals registered and decided through the services in two tenants, their
accruals, a reversal's clawback, statements and a paid payout run are
backed up and restored into a new database, where ``check_ledger`` finds
nothing wrong and every table holds the same rows: the same count per
table, the same ledger sums per tenant and kind, the same registrations
per status. A non-empty database is not overwritten without ``--replace``;
a failed backup leaves no file behind; a ``pg_dump`` older than the server
is refused; uploaded files are archived beside the dump.
"""

import shutil
import subprocess
import tarfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import time_machine
from django.apps import apps
from django.db import connection
from psycopg import sql

from dealreg import services as dealreg
from dealreg.models import DealRegistration
from incentives import payouts, statements
from incentives.models import (
    LedgerEntry,
    PayoutLine,
    PayoutRun,
    Settlement,
    Statement,
)
from partners.models import Partner
from prm.tenancy.models import AuditEntry, Membership, Notification, Tenant
from prm.tenancy.roles import Role
from tests.dealreg import conftest as dealreg_fixtures
from tests.incentives.conftest import euro_rate_and_plan
from tests.incentives.test_payouts import book
from tests.outage import ROOT, worker_env

# The deal registration fixtures (both tenants' product lines, submitting as a partner).
products = dealreg_fixtures.products
submit_as = dealreg_fixtures.submit_as

BACKUP = str(ROOT / "scripts" / "backup.sh")
RESTORE = str(ROOT / "scripts" / "restore.sh")
CUSTOMERS = ("Initech", "Globodyne", "Umbrella Health", "Soylent Foods", "Cyberdyne Systems")
MAY = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
Status = DealRegistration.Status


def run(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=worker_env(**env), capture_output=True, text=True, timeout=120
    )


def connect(dbname: str) -> psycopg.Connection[Any]:
    """A connection of its own to ``dbname`` on the test database's server."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def drop_database(name: str) -> None:
    with connect("postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_exists(name: str) -> bool:
    with connect("postgres") as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def backup(tmp_path: Path, **env: str) -> Path:
    """Run backup.sh on the test database; the dump it wrote."""
    done = run(BACKUP, PRM_BACKUP_DIR=str(tmp_path), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    (dump,) = tmp_path.glob("*.dump")
    assert f"Backup written: {dump} (" in done.stdout
    assert dump.name.startswith(f"{connection.settings_dict['NAME']}-")
    return dump


@pytest.fixture
def restored_name():
    """A database name of this test's own (per xdist worker), dropped before
    and after, with the scratch database restore.sh works in."""
    name = f"{connection.settings_dict['NAME']}_restored"
    names = (name, f"{name}_restoring")
    for each in names:
        drop_database(each)
    yield name
    for each in names:
        drop_database(each)


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows per table, for every table of the database."""
    tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {
        table: conn.execute(
            sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()[0]
        for (table,) in tables.fetchall()
    }


def snapshot(dbname: str) -> dict[str, Any]:
    """What must survive a backup and restore, read from ``dbname``: the rows
    of every table, the ledger's sums per tenant and kind, the
    registrations per status, the statements' closing balances."""
    tenant = Tenant._meta.db_table
    queries = {
        "ledger": f"""
            SELECT t.slug, e.kind, e.base_currency, SUM(e.amount_base), COUNT(*)
              FROM {LedgerEntry._meta.db_table} e JOIN {tenant} t ON t.id = e.tenant_id
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        "registrations": f"""
            SELECT t.slug, r.status, COUNT(*), SUM(r.won_amount)
              FROM {DealRegistration._meta.db_table} r JOIN {tenant} t ON t.id = r.tenant_id
             GROUP BY 1, 2 ORDER BY 1, 2""",
        "statements": f"""
            SELECT t.slug, SUM(s.closing), COUNT(*)
              FROM {Statement._meta.db_table} s JOIN {tenant} t ON t.id = s.tenant_id
             GROUP BY 1 ORDER BY 1""",
    }
    with connect(dbname) as conn:
        found: dict[str, Any] = {"rows": row_counts(conn)}
        for key, query in queries.items():
            found[key] = conn.execute(query).fetchall()
    return found


def project_tables() -> set[str]:
    """The tables of every model of the project's own apps (many-to-many
    tables and the historical models included)."""
    return {
        model._meta.db_table
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(ROOT) and ".venv" not in Path(config.path).parts
        for model in config.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


@pytest.fixture
def business(acme, globex, submit_as):
    """In each tenant: five registrations submitted through the portal's
    service, one left pending, one approved, one rejected, one won in
    dollars, one won in euros and then reversed (clawed back); a manual
    entry for the second partner; in June, May's statements and a paid
    payout run. Committed (the test is transactional): pg_dump sees it."""
    with time_machine.travel(MAY, tick=False):
        for world in (acme, globex):
            with world.scope():
                euro_rate_and_plan(world)
            cm, ops = world[Role.CHANNEL_MANAGER], world[Role.OPS_ADMIN]
            pending, approved, rejected, won, reversed_ = (
                submit_as(
                    world,
                    customer_name=customer,
                    customer_domain=f"{customer.split()[0].lower()}.example",
                    currency="EUR" if n == 4 else "USD",
                )
                for n, customer in enumerate(CUSTOMERS)
            )
            with world.scope():
                assert pending.status == Status.SUBMITTED
                dealreg.approve(approved, by=cm)
                dealreg.reject(rejected, by=cm, reason="Already in our pipeline")
                for registration, amount in ((won, "12345.67"), (reversed_, "999.99")):
                    dealreg.approve(registration, by=cm)
                    dealreg.record_outcome(
                        registration,
                        by=cm,
                        won=True,
                        amount=Decimal(amount),
                        close_date=date(2026, 4, 20),
                    )
                dealreg.reverse_win(reversed_, by=ops, reason="Refunded")
                book(world, world.other_partner, "75", available_on=date(2026, 5, 10))
    with time_machine.travel(JUNE, tick=False):
        for world in (acme, globex):
            with world.scope():
                assert statements.issue_statements(world.tenant, date(2026, 5, 1)) == 2
                finance = world[Role.FINANCE]
                run = payouts.start_run(world.tenant, by=finance, cutoff=JUNE.date())
                checker = world.second(Role.FINANCE)
                run = payouts.write_payouts(payouts.approve(payouts.compute_run(run), by=checker))
                payouts.mark_paid(run, by=finance, reference="B-1")
    return acme, globex


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_with_the_same_data(
    business, tmp_path, restored_name
):
    source = connection.settings_dict["NAME"]
    before = snapshot(source)
    # The data is there to be compared: every kind of entry, every decision.
    for slug in ("acme", "globex"):
        kinds = {kind for tenant, kind, *_ in before["ledger"] if tenant == slug}
        assert kinds == {"accrual", "clawback", "payout"}, before["ledger"]
        states = {status for tenant, status, *_ in before["registrations"] if tenant == slug}
        assert states == {"submitted", "approved", "rejected", "won", "reversed"}
    assert project_tables() <= set(before["rows"])
    assert before["rows"][Tenant._meta.db_table] == 2
    for model in (Membership, AuditEntry, Notification, Partner, Partner.history.model):
        assert before["rows"][model._meta.db_table] > 0, model
    for model in (Statement, PayoutRun, PayoutLine, Settlement):
        assert before["rows"][model._meta.db_table] > 0, model

    dump = backup(tmp_path)
    restored = run(RESTORE, str(dump), restored_name)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"Restored {dump} into database {restored_name}" in restored.stdout
    assert "no differences." in restored.stdout
    assert not database_exists(f"{restored_name}_restoring")

    entries = before["rows"][LedgerEntry._meta.db_table]
    check = run(".venv/bin/python", "manage.py", "check_ledger", PRM_DB_NAME=restored_name)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"2 tenants, {entries:,} entries, 4 statements, 4 payouts" in check.stdout

    assert snapshot(restored_name) == before


@pytest.mark.django_db
def test_restore_refuses_a_non_empty_database_without_replace(tmp_path, restored_name):
    dump = backup(tmp_path)
    with connect("postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored_name)))
    with connect(restored_name) as conn:
        conn.execute("CREATE TABLE keep (note text); INSERT INTO keep VALUES ('precious')")

    refused = run(RESTORE, str(dump), restored_name)
    assert refused.returncode == 1
    assert f"database {restored_name} exists and is not empty" in refused.stderr
    assert "--replace" in refused.stderr
    with connect(restored_name) as conn:
        assert row_counts(conn) == {"keep": 1}
        assert conn.execute("SELECT note FROM keep").fetchall() == [("precious",)]
    assert not database_exists(f"{restored_name}_restoring")

    replaced = run(RESTORE, "--replace", str(dump), restored_name)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    with connect(restored_name) as conn:
        rows = row_counts(conn)
    assert "keep" not in rows
    assert rows["django_migrations"] > 0
    assert project_tables() <= set(rows)


@pytest.mark.django_db
def test_a_failed_backup_says_why_and_leaves_no_file(tmp_path, restored_name):
    missing = run(BACKUP, PRM_BACKUP_DIR=str(tmp_path), PRM_DB_NAME=restored_name)
    assert missing.returncode == 1
    assert f"cannot connect to database {restored_name}" in missing.stderr

    with connect("postgres") as conn:  # a database that is not PRM's
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored_name)))
    foreign = run(BACKUP, PRM_BACKUP_DIR=str(tmp_path), PRM_DB_NAME=restored_name)
    assert foreign.returncode == 1
    assert f"database {restored_name} has no django_migrations table" in foreign.stderr
    assert "No backup was written." in foreign.stderr
    assert list(tmp_path.iterdir()) == []  # the dump it had written is gone


@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_refused(tmp_path):
    """A client whose major version is below the server's (pg_dump refuses
    newer servers; an older pg_restore cannot read newer archives)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    psql = shutil.which("psql")
    assert psql is not None
    (bin_dir / "psql").symlink_to(psql)
    old = bin_dir / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(0o755)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000

    refused = run(BACKUP, PRM_BACKUP_DIR=str(tmp_path / "out"), PRM_PG_BIN=str(bin_dir))
    assert refused.returncode == 1
    assert f"no pg_dump for PostgreSQL {major}" in refused.stderr
    assert f"{old} (9)" in refused.stderr
    assert "PRM_PG_BIN" in refused.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.django_db
def test_uploaded_files_are_archived_beside_the_dump(tmp_path):
    """The settings have no MEDIA_ROOT yet; settings that set one (as they
    will once something is uploaded) get its files archived."""
    media = tmp_path / "media"
    (media / "contracts").mkdir(parents=True)
    (media / "contracts" / "signed.pdf").write_bytes(b"%PDF-1.7 signed")
    (tmp_path / "media_settings.py").write_text(
        f"from prm.test_settings import *  # noqa\nMEDIA_ROOT = {str(media)!r}\n"
    )
    out = tmp_path / "backups"
    dump = backup(out, DJANGO_SETTINGS_MODULE="media_settings", PYTHONPATH=f"{tmp_path}:{ROOT}")
    archive = dump.with_name(dump.name.removesuffix(".dump") + ".media.tar.gz")
    with tarfile.open(archive) as tar:
        member = tar.extractfile("./contracts/signed.pdf")
        assert member is not None and member.read() == b"%PDF-1.7 signed"
    assert sorted(p.name for p in out.iterdir()) == [dump.name, archive.name]
