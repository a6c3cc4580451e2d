"""Every API route, walked for every kind of caller (the API's URL matrix).

For each route and method: no key gets 401; a key of another tenant gets
401 on this tenant's host; another tenant's key on its own host asking this
tenant's object ids gets 404; each role's key (every scope it may hold)
gets 403 exactly where the permission table says its role may not, and
something else where it may. What each endpoint asks is what its viewset
declares (``read_perms``, ``write_perms``, ``action_perms``); each app's
``url_matrix`` module names one object of a tenant per resource
(``API_OBJECTS``, by the route's basename)."""

from importlib import import_module

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from prm.api.permissions import required_perms
from prm.tenancy import registry
from prm.tenancy.roles import ALL_ROLES

from .conftest import ApiClient, make_key

pytestmark = pytest.mark.django_db
DOCS = {"api:schema", "api:docs", "api:unknown"}


def api_objects() -> dict:
    merged: dict = {}
    for path in registry.url_matrix_modules():
        part = getattr(import_module(path), "API_OBJECTS", None) or {}
        clash = set(part) & set(merged)
        assert not clash, f"{path} repeats API_OBJECTS entries: {sorted(clash)}"
        merged.update(part)
    return merged


def api_routes() -> dict[str, str]:
    found = {}

    def walk(patterns, namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(
                    p.url_patterns, namespace + (f"{p.namespace}:" if p.namespace else "")
                )
            elif isinstance(p, URLPattern) and namespace == "api:" and p.name:
                yield f"api:{p.name}", str(p.pattern)

    for name, pattern in walk(get_resolver("prm.urls").url_patterns):
        if name not in DOCS:
            found[name] = pattern
    return found


def viewsets() -> dict:
    return {
        route.basename: route.viewset
        for path in registry.api_modules()
        for route in import_module(path).ROUTES
    }


def list_level(name: str) -> bool:
    """A route of no one object: a list, or an action on the list
    (``@action(detail=False)``, e.g. an import)."""
    basename, _, kind = name[len("api:") :].rpartition("-")
    if kind == "list":
        return True
    actions = viewsets()[basename].get_extra_actions()
    return any(a.url_name == kind and not a.detail for a in actions)


def url_of(name: str, world, objects: dict) -> str:
    basename = name[len("api:") :].rpartition("-")[0]
    if list_level(name):
        return reverse(name)
    obj = objects[basename](world)
    assert obj is not None, f"{basename}: the world has no object"
    # The viewset's lookup: the id, or e.g. a metric's key.
    view = viewsets()[basename]
    field = view.lookup_field
    return reverse(name, kwargs={view.lookup_url_kwarg or field: getattr(obj, field)})


class _View:
    def __init__(self, cls, action):
        self.action = action
        for attr in ("read_perms", "write_perms", "action_perms"):
            setattr(self, attr, getattr(cls, attr))


def calls(url: str):
    """(method, the roles the table lets through) for each method of ``url``."""
    match = resolve(url)
    cls, actions = match.func.cls, match.func.actions
    table = registry.permissions()
    for method, action in list(actions.items()):
        if method not in {"get", "post", "put", "patch", "delete"}:
            continue
        perms = required_perms(_View(cls, action), method.upper())
        unknown = [p for p in perms if p not in table]
        assert not unknown, f"{cls.__name__}.{action} asks for undeclared {unknown}"
        roles = {r for p in perms for r in table[p]}
        yield method, roles


def send(client: ApiClient, method: str, url: str):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, {})


def test_every_route_has_an_object(acme):
    objects = api_objects()
    missing = [
        name
        for name in api_routes()
        if not list_level(name) and name[4:].rpartition("-")[0] not in objects
    ]
    assert not missing, f"API routes without API_OBJECTS: {missing}"
    assert len(api_routes()) >= 6


def test_no_key_and_another_tenants_key_get_401(personas):
    acme, globex = personas["acme"], personas["globex"]
    objects = api_objects()
    _, globex_token = make_key(globex, "ops_admin")
    for name in api_routes():
        url = url_of(name, acme, objects)
        for method, _ in calls(url):
            for client in (ApiClient(acme.host), ApiClient(acme.host, globex_token)):
                response = send(client, method, url)
                assert response.status_code == 401, (name, method, response.status_code)


def test_other_tenants_object_ids_are_404(personas):
    acme, globex = personas["acme"], personas["globex"]
    objects = api_objects()
    _, token = make_key(globex, "ops_admin")
    intruder = ApiClient(globex.host, token)
    checked = 0
    for name in api_routes():
        if list_level(name):
            continue
        if not hasattr(objects[name[4:].rpartition("-")[0]](acme), "tenant_id"):
            continue  # the same in every tenant (a declared metric)
        url = url_of(name, acme, objects)
        for method, roles in calls(url):
            if "ops_admin" not in roles:
                continue
            response = send(intruder, method, url)
            assert response.status_code == 404, (name, method, response.status_code)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_roles_get_403_exactly_where_the_table_says(personas, role):
    acme = personas["acme"]
    objects = api_objects()
    _, token = make_key(acme, role)
    client = ApiClient(acme.host, token)
    for name in api_routes():
        url = url_of(name, acme, objects)
        for method, roles in calls(url):
            response = send(client, method, url)
            if role in roles:
                assert response.status_code not in {401, 403, 500}, (
                    name,
                    method,
                    role,
                    response.status_code,
                    response.content[:300],
                )
            else:
                assert response.status_code == 403, (name, method, role, response.status_code)
