"""No module of the product grows past ~600 lines: one that does becomes a
package of modules named for what they hold (CONVENTIONS.md). Migrations
and tests are not counted."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600
SKIPPED_DIRS = {".venv", "tests", "migrations", "node_modules", "static"}


def modules():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if SKIPPED_DIRS.intersection(parts) or any(p.startswith(".") for p in parts):
            continue
        yield path


def test_modules_are_counted():
    found = {str(p.relative_to(ROOT)) for p in modules()}
    assert "prm/tenancy/models.py" in found
    assert "bench/management/commands/bench_payouts.py" in found
    assert not any(name.startswith("tests/") for name in found)


def test_no_module_is_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): count
        for path in modules()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these into modules named for what they hold: {long}"
