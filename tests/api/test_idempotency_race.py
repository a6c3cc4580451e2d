"""Two requests with one Idempotency-Key at the same moment, on real
PostgreSQL: one does the work, the other waits for it and replays its
answer; nothing is created twice."""

import pytest

from partners.models import Partner
from prm.tenancy.roles import Role
from tests.concurrency import run_together

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_retries_create_once(acme):
    _, token = make_key(acme, Role.OPS_ADMIN)
    with acme.scope():
        tier_id = str(acme.partner.tier_id)
    body = {"name": "Racing Partners", "type": "msp", "country": "NL", "tier": tier_id}

    def post():
        response = ApiClient(acme.host, token).post(
            "/api/v1/partners/", body, **{"Idempotency-Key": "race-1"}
        )
        return response.status_code, response.json()["id"], response.get("Idempotent-Replayed")

    results = run_together(acme, post, post, post)
    answers = [r[1] for r in results]
    assert all(r[0] == "ok" for r in results), results
    assert {a[0] for a in answers} == {201}
    assert len({a[1] for a in answers}) == 1
    assert sorted(str(a[2]) for a in answers) == ["None", "true", "true"]
    with acme.scope():
        assert Partner.objects.filter(name="Racing Partners").count() == 1
