"""Ops configure deal registration in the tenant admin: product lines,
routing rules, the policy (one settings row per tenant), closure days,
per-tier protection and custom fields. Other staff look; nobody reaches
another tenant's configuration."""

import pytest
from django.urls import reverse

from dealreg.models import (
    ClosureDay,
    CustomField,
    DealRegistration,
    DealRegSettings,
    ProductLine,
    RoutingRule,
    TierProtection,
)
from partners.models import Tier
from prm.tenancy.models import AuditEntry
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def url(model: str, view: str, *args) -> str:
    return reverse(f"tenant_admin:dealreg_{model}_{view}", args=args)


def count(world, model) -> int:
    with world.scope():
        return model.objects.count()


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


# (model name, model, valid POST data for the add form given a world)
def _closure(world):
    return {"day": "2030-12-24", "name": "Christmas Eve"}


def _product(world):
    return {"name": "Cloud Backup", "code": "backup", "description": "", "is_active": "on"}


def _protection(world):
    with world.scope():
        tier = Tier.objects.get(name="Silver")
    return {"tier": str(tier.pk), "protection_days": "45"}


def _field(world):
    return {
        "label": "Budget approved?",
        "key": "budget",
        "field_type": "checkbox",
        "choices": "",
        "help_text": "",
        "position": "1",
        "is_active": "on",
    }


def _rule(world):
    return {
        "name": "Big deals",
        "priority": "10",
        "is_active": "on",
        "min_value": "100000",
        "max_value": "",
        "approver": str(world[Role.CHANNEL_MANAGER].user.pk),
    }


CONFIG = [
    ("closureday", ClosureDay, _closure),
    ("productline", ProductLine, _product),
    ("tierprotection", TierProtection, _protection),
    ("customfield", CustomField, _field),
    ("routingrule", RoutingRule, _rule),
]


class TestRoles:
    @pytest.mark.parametrize(("model", "klass", "data"), CONFIG)
    def test_ops_add(self, acme, model, klass, data):
        response = acme.client("ops_admin").post(url(model, "add"), data(acme))
        assert response.status_code == 302, form_errors(response)
        assert count(acme, klass) == 1
        with acme.scope():
            assert klass.objects.get().tenant == acme.tenant

    @pytest.mark.parametrize(("model", "klass", "data"), CONFIG)
    @pytest.mark.parametrize("role", ["channel_manager", "finance", "executive"])
    def test_other_staff_look_but_do_not_add(self, acme, model, klass, data, role):
        client = acme.client(role)
        assert client.get(url(model, "changelist")).status_code == 200
        assert client.get(url(model, "add")).status_code == 403
        assert client.post(url(model, "add"), data(acme)).status_code == 403
        assert count(acme, klass) == 0

    @pytest.mark.parametrize(("model", "klass", "data"), CONFIG)
    def test_other_staff_cannot_change_or_delete(self, acme, model, klass, data):
        acme.client("ops_admin").post(url(model, "add"), data(acme))
        with acme.scope():
            obj = klass.objects.get()
        client = acme.client("executive")
        page = client.get(url(model, "change", obj.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(url(model, "change", obj.pk), data(acme)).status_code == 403
        assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
        assert count(acme, klass) == 1

    @pytest.mark.parametrize(("model", "klass", "data"), CONFIG)
    def test_another_tenants_configuration_is_out_of_reach(self, acme, globex, model, klass, data):
        acme.client("ops_admin").post(url(model, "add"), data(acme))
        with acme.scope():
            obj = klass.objects.get()
        intruder = globex.client("ops_admin")
        assert intruder.get(url(model, "change", obj.pk)).status_code == 404
        assert intruder.post(url(model, "change", obj.pk), data(globex)).status_code == 404
        assert intruder.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 404
        listed = intruder.get(url(model, "changelist")).context["cl"].result_list
        assert list(listed) == []
        assert count(acme, klass) == 1

    @pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
    def test_partners_get_403(self, acme, role):
        client = acme.client(role)
        for model, _klass, _data in CONFIG:
            assert client.get(url(model, "changelist")).status_code == 403
        assert client.get(url("dealregsettings", "changelist")).status_code == 403


class TestProductLines:
    def test_code_is_unique_per_tenant(self, acme, globex, products):
        response = acme.client("ops_admin").post(
            url("productline", "add"), {"name": "Firewall Two", "code": "fw", "is_active": "on"}
        )
        assert response.status_code == 200
        assert form_errors(response)
        assert count(acme, ProductLine) == 3
        with globex.scope():
            ProductLine.objects.filter(code="fw").delete()
        response = globex.client("ops_admin").post(
            url("productline", "add"), {"name": "Firewall", "code": "fw", "is_active": "on"}
        )
        assert response.status_code == 302

    def test_a_product_line_in_use_is_not_deleted(self, acme, products, submit_as):
        submit_as(acme)
        client = acme.client("ops_admin")
        used, unused = products["acme"]["fw"], products["acme"]["edr"]
        page = client.get(url("productline", "delete", used.pk))
        assert page.status_code == 200
        assert "Deal registration DR-" in page.content.decode()
        client.post(url("productline", "delete", used.pk), {"post": "yes"})
        with acme.scope():
            assert ProductLine.objects.filter(pk=used.pk).exists()
        assert (
            client.post(url("productline", "delete", unused.pk), {"post": "yes"}).status_code == 302
        )
        with acme.scope():
            assert not ProductLine.objects.filter(pk=unused.pk).exists()

    def test_a_product_line_a_routing_rule_names_is_not_deleted(self, acme, products):
        product = products["acme"]["sdwan"]
        with acme.scope():
            rule = RoutingRule.objects.create(tenant=acme.tenant, name="SD-WAN desk")
            rule.product_lines.add(product)
        client = acme.client("ops_admin")
        page = client.get(url("productline", "delete", product.pk))
        assert "Routing rule SD-WAN desk" in page.content.decode()
        client.post(url("productline", "delete", product.pk), {"post": "yes"})
        with acme.scope():
            assert list(rule.product_lines.all()) == [product]

    def test_the_list_counts_registrations(self, acme, products, submit_as):
        submit_as(acme)
        response = acme.client("ops_admin").get(url("productline", "changelist"))
        totals = {p.code: p.registration_total for p in response.context["cl"].result_list}
        assert totals == {"fw": 1, "sdwan": 0, "edr": 0}


class TestRoutingRules:
    def test_listed_by_priority(self, acme):
        with acme.scope():
            for name, priority in (("Late", 300), ("Early", 10), ("Middle", 100)):
                RoutingRule.objects.create(tenant=acme.tenant, name=name, priority=priority)
        response = acme.client("executive").get(url("routingrule", "changelist"))
        assert [r.name for r in response.context["cl"].result_list] == ["Early", "Middle", "Late"]

    def test_conditions_and_a_pool(self, acme, products):
        client = acme.client("ops_admin")
        data = {
            **_rule(acme),
            "approver": "",
            "pool": [
                str(acme[Role.CHANNEL_MANAGER].user.pk),
                str(acme[Role.OPS_ADMIN].user.pk),
            ],
            "partner_types": ["reseller", "msp"],
            "product_lines": [str(products["acme"]["fw"].pk)],
            "countries": ["US", "CA"],
        }
        response = client.post(url("routingrule", "add"), data)
        assert response.status_code == 302, form_errors(response)
        with acme.scope():
            rule = RoutingRule.objects.get()
            assert rule.partner_types == ["reseller", "msp"]
            assert sorted(c.code for c in rule.countries) == ["CA", "US"]
            assert set(rule.pool.all()) == {
                acme[Role.CHANNEL_MANAGER].user,
                acme[Role.OPS_ADMIN].user,
            }
        html = client.get(url("routingrule", "changelist")).content.decode()
        assert "round-robin" in html
        assert "products Firewall" in html

    def test_a_rule_must_route_to_someone_and_values_must_make_sense(self, acme):
        data = {**_rule(acme), "approver": "", "min_value": "500", "max_value": "100"}
        response = acme.client("ops_admin").post(url("routingrule", "add"), data)
        errors = form_errors(response)
        assert "Name an approver or a pool" in errors["approver"][0]
        assert errors["max_value"] == ["The maximum must not be below the minimum."]
        assert count(acme, RoutingRule) == 0

    def test_approvers_are_this_tenants_approvers(self, acme, globex, products):
        client = acme.client("ops_admin")
        for user in (globex[Role.CHANNEL_MANAGER].user, acme[Role.PARTNER_USER].user):
            response = client.post(url("routingrule", "add"), {**_rule(acme), "approver": user.pk})
            assert "approver" in form_errors(response)
            response = client.post(
                url("routingrule", "add"), {**_rule(acme), "pool": [str(user.pk)]}
            )
            assert "pool" in form_errors(response)
        with globex.scope():
            foreign = ProductLine.objects.get(code="fw")
        response = client.post(
            url("routingrule", "add"), {**_rule(acme), "product_lines": [str(foreign.pk)]}
        )
        assert "product_lines" in form_errors(response)
        assert count(acme, RoutingRule) == 0


SETTINGS_URL = url("dealregsettings", "changelist")


def settings_post(**overrides) -> dict:
    data = {
        "sla_business_hours": "8",
        "workdays": ["0", "1", "2", "3"],
        "day_start": "08:00",
        "day_end": "16:00",
        "reminder_percents": "90,50,50",
        "escalate_on_breach": "on",
        "protection_days": "120",
        "expiry_warning_days": "10",
        "max_extensions": "1",
        "extension_days": "15",
        "name_similarity_threshold": "0.70",
    }
    data.update(overrides)
    return data


class TestSettings:
    def test_the_list_opens_the_tenants_row_creating_it(self, acme, globex):
        assert count(acme, DealRegSettings) == 0
        response = acme.client("ops_admin").get(SETTINGS_URL)
        assert response.status_code == 200
        with acme.scope():
            row = DealRegSettings.objects.get()
        assert response.context["original"] == row
        assert 'name="sla_business_hours"' in response.content.decode()
        acme.client("ops_admin").get(SETTINGS_URL)
        assert count(acme, DealRegSettings) == 1
        assert count(globex, DealRegSettings) == 0

    def test_ops_save_the_policy_and_it_is_audited(self, acme):
        client = acme.client("ops_admin")
        response = client.post(SETTINGS_URL, settings_post())
        assert response.status_code == 302
        with acme.scope():
            row = DealRegSettings.objects.get()
            assert row.sla_business_hours == 8
            assert row.workdays == [0, 1, 2, 3]
            assert row.reminder_percents == [50, 90]
            assert row.protection_days == 120
            assert str(row.name_similarity_threshold) == "0.70"
            assert row.auto_approve_on_breach is False
            entry = AuditEntry.objects.get(action="dealreg.settings_changed")
        assert entry.data["protection_days"] == "120"
        assert "sla_business_hours" in entry.data

    def test_invalid_policies_are_form_errors(self, acme):
        client = acme.client("ops_admin")
        response = client.post(
            SETTINGS_URL,
            settings_post(
                day_end="07:00",
                workdays=[],
                name_similarity_threshold="1.5",
                reminder_percents="120",
            ),
        )
        assert response.status_code == 200
        errors = form_errors(response)
        assert errors["day_end"] == ["The working day must end after it starts."]
        assert errors["workdays"] == ["Choose at least one working day."]
        assert "name_similarity_threshold" in errors
        assert "reminder_percents" in errors
        with acme.scope():
            assert DealRegSettings.objects.get().sla_business_hours == 16

    def test_nobody_adds_or_deletes_the_settings(self, acme):
        client = acme.client("ops_admin")
        client.get(SETTINGS_URL)
        with acme.scope():
            row = DealRegSettings.objects.get()
        assert client.get(url("dealregsettings", "add")).status_code == 403
        assert (
            client.post(url("dealregsettings", "delete", row.pk), {"post": "yes"}).status_code
            == 403
        )
        assert count(acme, DealRegSettings) == 1

    @pytest.mark.parametrize("role", ["channel_manager", "finance", "executive"])
    def test_other_staff_read_the_policy(self, acme, role):
        client = acme.client(role)
        response = client.get(SETTINGS_URL)
        assert response.status_code == 200
        assert 'name="_save"' not in response.content.decode()
        assert client.post(SETTINGS_URL, settings_post()).status_code == 403
        with acme.scope():
            assert DealRegSettings.objects.get().sla_business_hours == 16

    def test_another_tenants_row_is_404(self, acme, globex):
        acme.client("ops_admin").get(SETTINGS_URL)
        with acme.scope():
            row = DealRegSettings.objects.get()
        intruder = globex.client("ops_admin")
        assert intruder.get(url("dealregsettings", "change", row.pk)).status_code == 404
        assert (
            intruder.post(url("dealregsettings", "change", row.pk), settings_post()).status_code
            == 404
        )
        # Globex's list opens globex's own row.
        response = intruder.get(SETTINGS_URL)
        assert response.context["original"].pk != row.pk
        with acme.scope():
            assert DealRegSettings.objects.get().sla_business_hours == 16


class TestClosureAndProtection:
    def test_a_closure_day_once(self, acme):
        client = acme.client("ops_admin")
        client.post(url("closureday", "add"), _closure(acme))
        response = client.post(url("closureday", "add"), _closure(acme))
        assert response.status_code == 200
        assert form_errors(response)
        assert count(acme, ClosureDay) == 1

    def test_one_protection_per_tier_of_this_tenant(self, acme, globex):
        client = acme.client("ops_admin")
        client.post(url("tierprotection", "add"), _protection(acme))
        response = client.post(url("tierprotection", "add"), _protection(acme))
        assert "tier" in form_errors(response)
        response = client.post(url("tierprotection", "add"), _protection(globex))
        assert "tier" in form_errors(response)
        assert count(acme, TierProtection) == 1
        with acme.scope():
            assert TierProtection.objects.get().protection_days == 45


class TestCustomFields:
    def test_a_choice_field_needs_options(self, acme):
        client = acme.client("ops_admin")
        for choices in ("", "Only one", "Yes\nNo\nYes"):
            data = {**_field(acme), "field_type": "choice", "choices": choices}
            response = client.post(url("customfield", "add"), data)
            assert response.status_code == 200
            assert "choices" in form_errors(response), choices
        assert count(acme, CustomField) == 0
        data = {**_field(acme), "field_type": "choice", "choices": " Small \n\nLarge\n"}
        assert client.post(url("customfield", "add"), data).status_code == 302
        with acme.scope():
            assert CustomField.objects.get().choice_list() == ["Small", "Large"]

    def test_other_types_take_no_options(self, acme):
        data = {**_field(acme), "field_type": "text", "choices": "A\nB"}
        response = acme.client("ops_admin").post(url("customfield", "add"), data)
        assert "Only choice fields have options" in form_errors(response)["choices"][0]

    def test_the_key_is_fixed_once_answers_use_it(self, acme, submit_as):
        client = acme.client("ops_admin")
        client.post(url("customfield", "add"), _field(acme))
        with acme.scope():
            field = CustomField.objects.get()
        page = client.get(url("customfield", "change", field.pk))
        assert 'name="key"' in page.content.decode()
        registration = submit_as(acme)
        with acme.scope():
            DealRegistration.objects.filter(pk=registration.pk).update(custom_data={"budget": True})
        page = client.get(url("customfield", "change", field.pk))
        assert 'name="key"' not in page.content.decode()
        client.post(url("customfield", "change", field.pk), {**_field(acme), "key": "renamed"})
        with acme.scope():
            assert CustomField.objects.get().key == "budget"
        # The registration page shows the answer under the field's label.
        page = client.get(
            reverse("tenant_admin:dealreg_dealregistration_change", args=[registration.pk])
        )
        assert "<dt>Budget approved?</dt><dd>True</dd>" in page.content.decode()
