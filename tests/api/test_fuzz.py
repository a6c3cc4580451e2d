"""Every API operation fuzzed from its own OpenAPI description
(schemathesis' Hypothesis strategies): valid requests and requests that
break the schema in every way it can think of (wrong types, missing and
extra fields, bytes that are not JSON, odd query parameters), against a
tenant with real objects, sent by an ops key and a partner admin's key.
None may answer a server error; an error is a problem document."""

import json
from importlib import import_module
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from prm.tenancy import registry
from prm.tenancy.roles import Role

from .conftest import make_key
from .test_api_matrix import api_objects

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EXAMPLES = 3


def operations(world):
    document = Client(HTTP_HOST=world.host).get("/api/v1/schema/", {"format": "json"}).json()
    schema = schemathesis.openapi.from_dict(document)
    return [found.ok() for found in schema.get_all_operations()]


def real_id(world, path_template: str, objects: dict) -> dict | None:
    """The path parameter of a detail route, as one of the world's objects
    fills it ({"id": its id}, or e.g. {"key": a metric's key}), else None."""
    if "{" not in path_template:
        return None
    prefix = path_template.removeprefix("/api/v1/").split("/")[0]
    routes = [r for m in registry.api_modules() for r in import_module(m).ROUTES]
    route = next(r for r in routes if r.prefix == prefix)
    factory = objects.get(route.basename)
    found = factory(world) if factory else None
    if found is None:
        return None
    view = route.viewset
    return {view.lookup_url_kwarg or view.lookup_field: str(getattr(found, view.lookup_field))}


def send(client: Client, token: str, case) -> object:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    url = urlsplit(kwargs["url"])
    headers = {
        k: v
        for k, v in kwargs.get("headers", {}).items()
        if k.lower() not in {"content-type", "host", "content-length"}
    }
    headers["Authorization"] = f"Bearer {token}"
    if "json" in kwargs:
        body, content_type = json.dumps(kwargs["json"]), "application/json"
    else:
        body = kwargs.get("data", b"")
        content_type = kwargs.get("headers", {}).get("Content-Type", "application/json")
    method = kwargs["method"].lower()
    query = kwargs.get("params") or {}
    if method == "get":
        return client.get(url.path, query, headers=headers)
    path = url.path + (("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else "")
    return getattr(client, method)(path, body, content_type=content_type, headers=headers)


def fuzz(operation, mode, overrides: dict, client: Client, token: str, failures: list) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, **overrides))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = send(client, token, case)
        kind = response.get("Content-Type", "")
        if response.status_code >= 500:
            failures.append(
                (operation.label, mode.value, response.status_code, case.as_curl_command())
            )
        elif response.status_code >= 400 and kind.startswith("application/json"):
            failures.append((operation.label, mode.value, "an error that is not a problem"))

    run()


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.PARTNER_ADMIN])
def test_no_request_makes_a_server_error(acme, role, settings_):
    _, token = make_key(acme, role)
    client = Client(HTTP_HOST=acme.host)
    objects = api_objects()
    failures: list = []
    for operation in operations(acme):
        known = real_id(acme, operation.path, objects)
        overrides = {"path_parameters": known} if known else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, overrides, client, token, failures)
    assert not failures, failures[:5]


@pytest.fixture
def settings_(settings):
    settings.API_RATE_LIMIT = 100000
    return settings
