"""Every admin add and change form, posted with ids that are not ids.

For each model of the tenant admin (as the first of the staff roles that may
open the form) and of the platform admin (as the superuser), on the demo
data: every relation and choice field of the form and its inlines gets
"abc", "1; drop", an overflowing number, the id of another tenant's object
and "". None may answer 500; a non-empty wrong value is an error on that
field and saves nothing. The same values as a prefill (``?partner=abc``),
and in each list filter of the changelists, answer a page, not a 500.
"""

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.management import call_command
from django.forms.models import InlineForeignKeyField
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from prm.tenancy.admin_base import tenant_admin_site
from prm.tenancy.models import Membership, Tenant, TenantOwned, User
from prm.tenancy.roles import Role

GARBAGE = ["abc", "1; drop", "99999999999999999999"]
STAFF = (Role.OPS_ADMIN, Role.CHANNEL_MANAGER, Role.FINANCE)
BACKEND = "prm.tenancy.auth.TenantAuthenticationBackend"


def reference_fields(form):
    """(name, field) of the relation and choice fields of ``form``."""
    for name, field in form.fields.items():
        kinds = (forms.ChoiceField, forms.MultipleChoiceField, InlineForeignKeyField)
        if isinstance(field, kinds) and not field.disabled:
            yield name, field


def all_forms(response):
    context = response.context
    yield context["adminform"].form
    for inline in context.get("inline_admin_formsets") or []:
        yield from inline.formset.forms


def rendered_data(response) -> dict:
    """What a browser would post back for the form as it was rendered."""
    data: dict = {}
    context = response.context
    forms_ = [context["adminform"].form]
    for inline in context.get("inline_admin_formsets") or []:
        forms_.append(inline.formset.management_form)
        forms_.extend(inline.formset.forms)
    for form in forms_:
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
                continue
            if isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = "" if value is None else str(value)
    return data


def field_errors(response, key: str) -> list:
    for form in all_forms(response):
        for name in form.fields:
            if form.add_prefix(name) == key:
                return list(form.errors.get(name, []))
    raise AssertionError(f"{key} is not in the form")


def foreign_id(field, other_tenant: Tenant | None) -> str | None:
    """The id of an object of another tenant that ``field`` could point at."""
    queryset = getattr(field, "queryset", None)
    if queryset is None or other_tenant is None:
        return None
    model = queryset.model
    with scopes_disabled():
        if issubclass(model, TenantOwned):
            obj = model._default_manager.filter(tenant=other_tenant).first()
        elif model is User:
            obj = (
                User.objects.filter(memberships__tenant=other_tenant)
                .exclude(memberships__tenant__in=Tenant.objects.exclude(pk=other_tenant.pk))
                .first()
            )
        else:
            return None
    return str(obj.pk) if obj is not None else None


def some_objects(model, tenant: Tenant | None, up_to: int = 10):
    with scopes_disabled():
        objects = model._default_manager.all()
        if tenant is not None and issubclass(model, TenantOwned):
            objects = objects.filter(tenant=tenant)
        return list(objects.order_by("pk")[:up_to])


def count(model, tenant):
    with scopes_disabled():
        objects = model._default_manager.all()
        if tenant is not None and issubclass(model, TenantOwned):
            objects = objects.filter(tenant=tenant)
        return objects.count()


class Prober:
    def __init__(self, site, clients, tenant, other_tenant, urlconf=None):
        self.site = site
        self.urlconf = urlconf
        self.clients = clients  # candidates, in order
        self.tenant = tenant
        self.other = other_tenant
        self.problems: list[str] = []
        self.checked: list[str] = []

    def url(self, model, view, *args):
        meta = model._meta
        return reverse(
            f"{self.site.name}:{meta.app_label}_{meta.model_name}_{view}",
            args=args,
            urlconf=self.urlconf,
        )

    def first_opening(self, url):
        for who, client in self.clients:
            response = client.get(url)
            if response.status_code == 200 and "adminform" in (response.context or {}):
                return who, client, response
        return None, None, None

    def probe_form(self, model, url, obj):
        who, client, page = self.first_opening(url)
        if client is None:
            return False
        base = rendered_data(page)
        if obj is not None and client.post(url, base).status_code == 403:
            return False  # not this object (a published plan version): try another
        self.checked.append(f"{url} as {who}")
        fields = [
            (form.add_prefix(name), field)
            for form in all_forms(page)
            for name, field in reference_fields(form)
        ]
        snapshot = self.snapshot(obj)
        for key, field in fields:
            for value in [*GARBAGE, foreign_id(field, self.other)]:
                if value is not None:
                    self.post_garbage(client, who, model, url, base, key, field, value)
            if obj is None and "-" not in key:  # a prefill of the add form
                for value in [*GARBAGE, foreign_id(field, self.other)]:
                    if value is not None and client.get(url, {key: value}).status_code >= 500:
                        self.problems.append(f"GET {url}?{key}={value!r}: 500")
        if obj is not None and self.snapshot(obj) != snapshot:
            self.problems.append(f"{url}: changed by malformed ids")
        for key, _field in fields:  # "" may be a legitimate value: last
            data = {**base, key: ""}
            response = client.post(url, data)
            if response.status_code not in (200, 302):
                self.problems.append(f"POST {url} {key}='' as {who}: {response.status_code}")
        return True

    def post_garbage(self, client, who, model, url, base, key, field, value):
        before = count(model, self.tenant)
        multiple = isinstance(field, forms.MultipleChoiceField)
        response = client.post(url, {**base, key: [value] if multiple else value})
        where = f"POST {url} {key}={value!r} as {who}"
        if response.status_code != 200 or "adminform" not in response.context:
            self.problems.append(f"{where}: {response.status_code}, not the form")
        elif not field_errors(response, key) and not isinstance(field, InlineForeignKeyField):
            # (An inline's pointer to its parent is never read from the
            # request: Django sets the parent itself.)
            self.problems.append(f"{where}: no error on the field")
        if count(model, self.tenant) != before:
            self.problems.append(f"{where}: saved a row")

    @staticmethod
    def snapshot(obj):
        if obj is None:
            return None
        with scopes_disabled():
            fresh = type(obj)._default_manager.get(pk=obj.pk)
            return {
                field.attname: getattr(fresh, field.attname) for field in type(obj)._meta.fields
            }

    def probe_changelist(self, model):
        url = self.url(model, "changelist")
        for who, client in self.clients:  # noqa: B007  # who: named in the problems
            page = client.get(url)
            if page.status_code == 200 and "cl" in page.context:
                break
        else:
            return
        params = {"o": None, "p": None, "q": None, "drill": None, IS_POPUP_VAR: None}
        for spec in page.context["cl"].filter_specs:
            params.update(dict.fromkeys(spec.expected_parameters()))
        for param in params:
            for value in [*GARBAGE, "\x00"]:
                response = client.get(url, {param: value})
                if response.status_code >= 500:
                    self.problems.append(f"GET {url}?{param}={value!r} as {who}: 500")

    def run(self):
        for model, _model_admin in self.site._registry.items():
            self.probe_changelist(model)
            self.probe_form(model, self.url(model, "add"), None)
            for obj in some_objects(model, self.tenant):
                if self.probe_form(model, self.url(model, "change", obj.pk), obj):
                    break
        return self


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0, scale=0.2)
    with scopes_disabled():
        return Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")


def quiet_client(host, user, backend=BACKEND):
    client = Client(HTTP_HOST=host, raise_request_exception=False)
    client.force_login(user, backend=backend)
    return client


@pytest.mark.slow
def test_no_tenant_admin_form_takes_a_malformed_id(demo):
    acme, globex = demo
    with scopes_disabled():
        members = {
            m.role: m.user
            for m in Membership.objects.filter(tenant=acme, role__in=STAFF, is_active=True)
        }
    clients = [(role, quiet_client("acme.localhost", members[role])) for role in STAFF]
    prober = Prober(tenant_admin_site, clients, acme, globex).run()
    assert len(prober.checked) > 20, prober.checked
    assert not prober.problems, "\n".join(prober.problems)


@pytest.mark.slow
def test_no_platform_admin_form_takes_a_malformed_id(demo):
    with scopes_disabled():
        superuser = User.objects.filter(is_superuser=True).first()
    clients = [("superuser", quiet_client("localhost", superuser))]
    prober = Prober(admin.site, clients, None, None, "prm.urls_platform").run()
    assert len(prober.checked) >= 5, prober.checked
    assert not prober.problems, "\n".join(prober.problems)


ID_GARBAGE = ["abc", "1;drop", "99999999999999999999", "..%2F..", "DR-ZZZZZZ"]


@pytest.mark.parametrize("role", [Role.OPS_ADMIN, Role.FINANCE])
def test_admin_object_urls_with_ids_that_are_none_answer_404(acme, globex, role):
    client = quiet_client("acme.localhost", acme[role].user)
    foreign = str(globex.partner.pk)
    problems = []
    for model in tenant_admin_site._registry:
        meta = model._meta
        for view in ("change", "delete", "history"):
            for value in [*ID_GARBAGE, foreign, "%00"]:
                url = f"/admin/{meta.app_label}/{meta.model_name}/{value}/{view}/"
                status = client.get(url).status_code
                if status >= 500 or status == 200:
                    problems.append(f"GET {url}: {status}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [
        "/deals/{}/",
        "/deals/{}/edit/",
        "/incentives/disputes/{}/",
        "/invitations/{}/",
    ],
)
def test_portal_codes_that_are_none_answer_404(acme, path):
    client = quiet_client("acme.localhost", acme[Role.PARTNER_ADMIN].user)
    for value in ID_GARBAGE:
        response = client.get(path.format(value))
        assert response.status_code == 404, (path, value, response.status_code)
    nul = client.get(path.format("DR-%00"))
    assert nul.status_code == 400
    assert "a NUL, %00" in nul.content.decode()
    for post in ("/deals/{}/withdraw/", "/deals/{}/messages/", "/incentives/disputes/{}/reply/"):
        for value in ID_GARBAGE:
            assert client.post(post.format(value), {"text": "x"}).status_code == 404
