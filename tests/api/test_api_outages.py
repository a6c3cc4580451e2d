"""The API when Redis or PostgreSQL is away: the rate limit is not what
takes the API down, and an outage answers a problem document, not a page."""

import json

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from prm.tenancy import outage
from prm.tenancy.roles import Role
from tests.outages.test_cache_outage import cache_down, redis_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_a_cache_outage_lets_api_requests_through_uncounted(acme, api, cache_down):  # noqa: F811
    client = api(acme, Role.OPS_ADMIN)
    response = client.get("/api/v1/partners/")
    assert response.status_code == 200
    assert "RateLimit-Remaining" not in response


def test_a_database_outage_answers_a_problem_with_retry_after():
    request = RequestFactory().get("/api/v1/partners/")
    response = outage.unavailable(request, OperationalError("connection refused"))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)
    body = json.loads(response.content)
    assert body["code"] == "service_unavailable" and "database" in body["detail"]
    page = outage.unavailable(RequestFactory().get("/deals/"), OperationalError("refused"))
    assert page["Content-Type"].startswith("text/html")
