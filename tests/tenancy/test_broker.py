"""prm.broker: tasks looked up by name."""

import subprocess
import sys

from tests.outage import ROOT

# A fresh process (no tasks module imported yet) whose threads look up their
# first tasks at once, as gunicorn's gthread workers do after a restart.
RACE = """
import threading, django
django.setup()
from prm.broker import task_named
names = ["dealreg.tasks.check_conflicts", "incentives.tasks.sync_deal"] * 3
errors, start = [], threading.Barrier(len(names))
def look_up(name):
    start.wait()
    try:
        task_named(name)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=look_up, args=(name,)) for name in names]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
"""


def test_threads_looking_up_their_first_tasks_at_once_all_find_them():
    for _ in range(3):
        run = subprocess.run(
            [sys.executable, "-c", RACE],
            cwd=ROOT,
            env={"DJANGO_SETTINGS_MODULE": "prm.test_settings", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "[]"
