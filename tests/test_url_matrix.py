"""Every URL pattern of the project, walked for every kind of visitor.

For each route on a tenant host: anonymous visitors are sent to log in (or
the route is listed as public); a member of the other tenant asking for this
tenant's object ids gets 404; each role gets 403 exactly when the permission
table (assembled from the apps' declarations) and the admin's own
restrictions say so. The platform host's routes are open to superusers only.

Each app declares its part of the matrix (``PRMApp.url_matrix``: a module
with PORTAL_ROUTES, ADMIN_OBJECTS, ADMIN_NOBODY, CUSTOM_ADMIN_VIEWS,
PERM_MODEL). A new URL pattern that no app's part covers makes
``test_every_route_is_covered`` fail: add it to the app's PORTAL_ROUTES (or
ACCOUNT_ROUTES here, for allauth), or give its admin model an object factory
in the app's ADMIN_OBJECTS.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from prm.tenancy import registry
from prm.tenancy.admin_base import tenant_admin_site
from prm.tenancy.roles import ALL_ROLES, Role

from . import factories

PLATFORM = "prm.urls_platform"
STAFF = {Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE, Role.EXECUTIVE}
ROLES = sorted(ALL_ROLES)


def walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace + (f"{p.namespace}:" if p.namespace else "")
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            name = f"{namespace}{p.name}" if p.name else f"{namespace}<unnamed>{route}"
            yield name, route


def routes(urlconf: str) -> dict[str, str]:
    return dict(walk(get_resolver(urlconf).url_patterns))


# --- Portal routes ----------------------------------------------------------


@dataclass
class Route:
    allowed: set[str] | frozenset[str]
    method: str = "get"
    public: bool = False
    # Builds the URL args from a TenantWorld (objects of that tenant).
    args: Callable | None = None


def _specs():
    """Every app's URL-matrix spec (``PRMApp.url_matrix``), merged."""
    merged: dict = {
        "PORTAL_ROUTES": {},
        "ADMIN_OBJECTS": {},
        "ADMIN_NOBODY": set(),
        "CUSTOM_ADMIN_VIEWS": {},
        "PERM_MODEL": {},
    }
    for path in registry.url_matrix_modules():
        module = import_module(path)
        for name, value in merged.items():
            part = getattr(module, name, None) or type(value)()
            clash = set(part) & set(value) if not isinstance(value, set) else set()
            assert not clash, f"{path} repeats {name} entries: {sorted(clash)}"
            value.update(part)
    return merged


SPECS = _specs()
PERMISSIONS = registry.permissions()
PORTAL_ROUTES: dict[str, Route] = {
    name: Route(**spec) for name, spec in SPECS["PORTAL_ROUTES"].items()
}

# allauth: pages for people who are not logged in, and pages for one's own
# account (login required). Neither holds tenant objects.
ACCOUNT_PUBLIC = {
    "account_login",
    "account_logout",
    "account_signup",
    "account_inactive",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_confirm_login_code",
    "mfa_authenticate",
}
ACCOUNT_LOGIN_REQUIRED = {
    "account_email",
    "account_change_password",
    "account_set_password",
    "account_reauthenticate",
    "mfa_index",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "usersessions_list",
}
ACCOUNT_ARGS = {
    "account_confirm_email": {"key": "not-a-key"},
    "account_reset_password_from_key": {"uidb36": "zz", "key": "not-a-key"},
}
ACCOUNT_PUBLIC |= set(ACCOUNT_ARGS)


# --- Admin routes -------------------------------------------------------------

# One object of the tenant per model registered in the tenant admin.
ADMIN_OBJECTS: dict[str, Callable] = SPECS["ADMIN_OBJECTS"]
# Where a model's admin allows less than the permission table.
ADMIN_NOBODY = SPECS["ADMIN_NOBODY"]
PERM_MODEL = SPECS["PERM_MODEL"]
CUSTOM_ADMIN_VIEWS = SPECS["CUSTOM_ADMIN_VIEWS"]


def admin_roles(label: str, action: str) -> set[str]:
    if (label, action) in ADMIN_NOBODY:
        return set()
    app, model = PERM_MODEL.get(label, label).split(".")
    return set(PERMISSIONS.get(f"{app}.{action}_{model}", frozenset()))


@dataclass
class AdminRoute:
    name: str
    allowed: set[str]
    obj_label: str | None = None
    kind: str = ""
    query: str = ""
    extra: dict = field(default_factory=dict)


def admin_route(name: str) -> AdminRoute:
    short = name.split(":", 1)[1]
    access = set(PERMISSIONS["admin.access"])
    if short in {"index", "jsi18n"}:
        return AdminRoute(name, access)
    if short in {"login", "logout", "password_change", "password_change_done"}:
        return AdminRoute(name, set(ALL_ROLES), kind="redirect")
    if short == "autocomplete":
        return AdminRoute(
            name,
            admin_roles("partners.partner", "view") | admin_roles("partners.partner", "change"),
            query="?app_label=partners&model_name=contact&field_name=partner&term=a",
        )
    if short == "app_list":
        # The matrix opens the partners app, whose partner list all staff see.
        return AdminRoute(name, admin_roles("partners.partner", "view"), kind="app_list")
    if short.startswith("<unnamed>admin/(?P<url>"):
        return AdminRoute(name, access, kind="catch_all")
    if short in CUSTOM_ADMIN_VIEWS:
        return AdminRoute(name, set(PERMISSIONS[CUSTOM_ADMIN_VIEWS[short]]))
    for label in ADMIN_OBJECTS:
        app, model = label.split(".")
        prefix = f"{app}_{model}_"
        unnamed_prefix = f"<unnamed>admin/{app}/{model}/"
        if short.startswith(prefix):
            view = short[len(prefix) :]
            see = admin_roles(label, "view") | admin_roles(label, "change")
            if view == "changelist":
                return AdminRoute(name, see)
            if view == "add":
                return AdminRoute(name, admin_roles(label, "add"))
            if view in {"change", "history", "simple_history"}:
                return AdminRoute(name, see, obj_label=label, kind=view)
            if view == "delete":
                return AdminRoute(name, admin_roles(label, "delete"), obj_label=label)
        if short.startswith(unnamed_prefix) or short == f"<unnamed>{app}/{model}/<path:object_id>/":
            see = admin_roles(label, "view") | admin_roles(label, "change")
            return AdminRoute(name, see, obj_label=label, kind="object_redirect")
    raise LookupError(name)


def admin_url(route: AdminRoute, pattern: str, world) -> str:
    if route.kind == "app_list":
        return reverse(route.name, kwargs={"app_label": "partners"})
    if route.kind == "catch_all":
        return "/admin/no/such/page/"
    if route.obj_label is None:
        return reverse(route.name) + route.query
    obj = ADMIN_OBJECTS[route.obj_label](world)
    if route.kind == "simple_history":
        with world.scope():
            version = obj.history.order_by("-history_id").first()
        return reverse(route.name, args=[obj.pk, version.history_id])
    if route.kind == "object_redirect":
        app, model = route.obj_label.split(".")
        return f"/admin/{app}/{model}/{obj.pk}/"
    return reverse(route.name, args=[obj.pk])


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        ("/accounts/login/", "/admin/login/")
    )


# --- The tests -------------------------------------------------------------------


def test_every_route_is_covered():
    known_accounts = ACCOUNT_PUBLIC | ACCOUNT_LOGIN_REQUIRED
    missing = []
    for name in routes("prm.urls"):
        if name.startswith("api:"):
            continue  # the API's own matrix: tests/api/test_api_matrix.py
        if name.startswith("tenant_admin:"):
            try:
                admin_route(name)
            except LookupError:
                missing.append(name)
        elif name not in PORTAL_ROUTES and name not in known_accounts:
            missing.append(name)
    for name in routes("prm.urls_platform"):
        if not (name.startswith("admin:") or name == "home" or name in known_accounts):
            missing.append(name)
    registered = {m._meta.label_lower for m in tenant_admin_site._registry}
    missing += sorted(
        f"admin model without object factory: {m}" for m in registered - set(ADMIN_OBJECTS)
    )
    assert not missing, f"URL patterns the matrix does not cover: {missing}"


def portal_url(name: str, route: Route, world) -> str:
    if name in ACCOUNT_ARGS:
        return reverse(name, kwargs=ACCOUNT_ARGS[name])
    args = route.args(world) if route.args else []
    return reverse(name, args=args)


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(personas):
    acme = personas["acme"]
    anonymous = Client(HTTP_HOST=acme.host)
    checked = 0
    for name, pattern in routes("prm.urls").items():
        if name.startswith("api:"):
            continue  # 401, not a login page: tests/api/test_api_matrix.py
        if name.startswith("tenant_admin:"):
            route = admin_route(name)
            url = admin_url(route, pattern, acme)
            response = anonymous.get(url)
            if route.kind == "redirect" and not name.endswith(":login"):
                assert response.status_code == 302, (name, response.status_code)
            else:
                assert is_login_redirect(response), (name, url, response.status_code)
        elif name in ACCOUNT_LOGIN_REQUIRED:
            response = anonymous.get(reverse(name))
            assert is_login_redirect(response), (name, response.status_code)
        elif name in ACCOUNT_PUBLIC:
            response = anonymous.get(portal_url(name, Route(allowed=set()), acme))
            assert response.status_code in {200, 302, 404, 405}, (name, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/"), (name, response["Location"])
        else:
            route = PORTAL_ROUTES[name]
            url = portal_url(name, route, acme)
            response = getattr(anonymous, route.method)(url)
            if route.public:
                assert response.status_code in {200, 404}, (name, response.status_code)
            else:
                assert is_login_redirect(response), (name, response.status_code)
        checked += 1
    assert checked >= 80


@pytest.mark.django_db
def test_other_tenants_object_ids_are_404(personas):
    """A globex ops admin (every permission there) asking globex's host for
    acme's objects: each object route answers 404, as for an unknown id."""
    acme, globex = personas["acme"], personas["globex"]
    intruder = globex.client(Role.OPS_ADMIN)
    checked = 0
    for name, pattern in routes("prm.urls").items():
        if name.startswith("tenant_admin:"):
            route = admin_route(name)
            if route.obj_label is None:
                continue
            url = admin_url(route, pattern, acme)
            response = intruder.get(url, follow=route.kind == "object_redirect")
        elif name in PORTAL_ROUTES and PORTAL_ROUTES[name].args and not PORTAL_ROUTES[name].public:
            route = PORTAL_ROUTES[name]
            url = portal_url(name, route, acme)
            response = getattr(intruder, route.method)(url)
        else:
            continue
        assert response.status_code == 404, (name, url, response.status_code)
        checked += 1
    assert checked >= len(ADMIN_OBJECTS) * 4


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_roles_get_403_exactly_where_the_table_says(personas, role):
    acme = personas["acme"]
    client = acme.client(role)
    for name, pattern in routes("prm.urls").items():
        if name.startswith("tenant_admin:"):
            route = admin_route(name)
            url = admin_url(route, pattern, acme)
            response = client.get(url, follow=route.kind == "object_redirect")
            if route.kind == "redirect":
                if role not in PERMISSIONS["admin.access"] and name.endswith(":login"):
                    assert response.status_code == 403, (name, role)
                else:
                    assert response.status_code == 302, (name, role, response.status_code)
                continue
            allowed = role in route.allowed
            if route.kind == "catch_all":
                expected = {404} if allowed else {403}
            else:
                expected = {200} if allowed else {403}
        elif name in PORTAL_ROUTES:
            route = PORTAL_ROUTES[name]
            if route.public:
                continue
            url = portal_url(name, route, acme)
            response = getattr(client, route.method)(url)
            allowed = role in route.allowed
            expected = {200, 302, 400} if allowed else {403}
        elif name in ACCOUNT_LOGIN_REQUIRED:
            response = client.get(reverse(name))
            assert response.status_code in {200, 302, 404}, (name, role, response.status_code)
            assert not is_login_redirect(response), (name, role)
            continue
        else:
            continue
        assert response.status_code in expected, (name, url, role, response.status_code)


@pytest.mark.django_db
def test_post_only_routes_refuse_get(acme):
    client = acme.client(Role.OPS_ADMIN)
    for name, route in PORTAL_ROUTES.items():
        if route.method == "post":
            response = client.get(portal_url(name, route, acme))
            assert response.status_code == 405, name


@pytest.mark.django_db
def test_platform_routes_are_for_superusers_only(acme, no_scope):
    superuser = factories.make_user("root@platform.test", is_superuser=True)
    anonymous = Client(HTTP_HOST="localhost")
    member = Client(HTTP_HOST="localhost")
    member.force_login(
        acme[Role.OPS_ADMIN].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
    )
    root = Client(HTTP_HOST="localhost")
    root.force_login(superuser, backend="prm.tenancy.auth.TenantAuthenticationBackend")
    object_urls = {
        "tenancy_tenant": acme.tenant.pk,
        "tenancy_user": superuser.pk,
        "account_emailaddress": superuser.emailaddress_set.first().pk,
    }
    checked = 0
    for name, pattern in routes("prm.urls_platform").items():
        if not name.startswith("admin:") or "<unnamed>" in name:
            continue
        short = name.split(":", 1)[1]
        if "object_id" in pattern or "<id>" in pattern or "content_type_id" in pattern:
            key = next((k for k in object_urls if short.startswith(k)), None)
            if key is None:
                continue  # models with no rows here (mfa authenticators)
            url = (
                reverse(name, args=[object_urls[key]], urlconf=PLATFORM)
                if "content_type_id" not in pattern
                else None
            )
            if url is None:
                continue
        elif short == "app_list":
            url = reverse(name, kwargs={"app_label": "tenancy"}, urlconf=PLATFORM)
        else:
            url = reverse(name, urlconf=PLATFORM)
        if short in {"logout", "password_change", "password_change_done", "login"}:
            continue
        if short == "autocomplete":
            url += "?app_label=tenancy&model_name=membership&field_name=user&term=a"
        assert is_login_redirect(anonymous.get(url)), name
        assert is_login_redirect(member.get(url)), name
        response = root.get(url)
        # The outbox is read-only: nobody adds deferred work by hand.
        expected = 403 if short == "tenancy_outboxmessage_add" else 200
        assert response.status_code == expected, (name, url, response.status_code)
        checked += 1
    assert checked >= 15
