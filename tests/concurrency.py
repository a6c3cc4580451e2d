"""Helpers for tests that race real PostgreSQL transactions: threads with
their own connections, started together at a barrier."""

import threading

from django.db import connection


def run_together(world, *calls, timeout=60):
    """Run each call in its own thread, inside ``world``'s scope, all released
    at once; returns [("ok", value) | ("error", exception)] in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            with world.scope():
                barrier.wait(timeout=timeout)
                results[index] = ("ok", call())
        except Exception as exc:
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def values(results):
    """The calls' return values, after asserting that none raised."""
    unexpected = [r[1] for r in results if r[0] == "error"]
    assert not unexpected, unexpected
    return [r[1] for r in results]
