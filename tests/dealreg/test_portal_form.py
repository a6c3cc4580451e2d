"""The registration form: new registrations, drafts, custom fields,
double submits and field-level errors."""

import uuid
from datetime import date, timedelta

import pytest
from django.test import Client

from dealreg import services
from dealreg.models import CustomField, DealRegistration, ProductLine
from partners.models import Region
from prm.tenancy.roles import STAFF_ROLES, Role
from tests import factories

from .conftest import registration_input

pytestmark = pytest.mark.django_db

NEW = "/deals/new/"
Status = DealRegistration.Status


def form_data(products, **overrides) -> dict:
    data = {
        "client_token": str(uuid.uuid4()),
        "customer_name": "Initech Corporation",
        "customer_domain": "https://www.initech.example/about",
        "customer_country": "US",
        "customer_region": "",
        "customer_contact_name": "Bill Lumbergh",
        "customer_contact_email": "bill@initech.example",
        "customer_contact_phone": "+1 555 0100",
        "product_lines": [str(products["fw"].pk), str(products["edr"].pk)],
        "estimated_value": "25000.50",
        "currency": "usd",
        "expected_close_date": (date.today() + timedelta(days=45)).isoformat(),
        "description": "Firewall refresh",
        "action": "submit",
    }
    data.update(overrides)
    return data


def registrations(world):
    with world.scope():
        return list(DealRegistration.objects.order_by("created_at"))


@pytest.fixture
def acme_products(products):
    return products["acme"]


@pytest.fixture
def custom_fields(acme):
    with acme.scope():
        made = [
            CustomField(key="seats", label="Seats", field_type="number", required=True),
            CustomField(key="budget_date", label="Budget approved on", field_type="date"),
            CustomField(
                key="stage",
                label="Stage",
                field_type="choice",
                choices="Discovery\nProposal\nNegotiation",
            ),
            CustomField(key="poc", label="Proof of concept planned", field_type="checkbox"),
            CustomField(key="incumbent", label="Incumbent vendor", field_type="text"),
            CustomField(key="notes", label="Other notes", field_type="textarea"),
            CustomField(key="retired", label="Retired question", is_active=False),
        ]
        for position, field in enumerate(made):
            field.tenant = acme.tenant
            field.position = position
            field.help_text = f"Help for {field.label}"
            field.save()
    return made


class TestNewForm:
    def test_renders_the_fields_with_tenant_defaults(self, acme, acme_products, custom_fields):
        with acme.scope():
            acme.tenant.base_currency = "EUR"
            acme.tenant.save()
            ProductLine.objects.filter(pk=acme_products["sdwan"].pk).update(is_active=False)
        response = acme.client(Role.PARTNER_USER).get(NEW)
        assert response.status_code == 200
        form = response.context["form"]
        assert form["currency"].value() == "EUR"
        assert form["customer_country"].value() == "US"  # the partner's own country
        uuid.UUID(str(form["client_token"].value()))
        page = response.content.decode()
        assert 'type="hidden" name="client_token"' in page
        assert 'type="checkbox" name="product_lines"' in page
        assert "Firewall" in page and "Endpoint" in page and "SD-WAN" not in page
        for label in ("Seats", "Budget approved on", "Stage", "Proof of concept planned"):
            assert label in page
        assert "Help for Seats" in page
        assert "Retired question" not in page
        assert 'name="cf_budget_date"' in page and 'type="date"' in page
        # works without JavaScript: the one script is the shared, deferred enhancement
        assert page.count("<script") == 1 and 'src="/static/js/prm.js" defer' in page

    def test_regions_are_the_tenants_own(self, acme, globex, acme_products):
        with globex.scope():
            factories.make_region(globex.tenant, code="apac", countries=["JP"])
        form = acme.client(Role.PARTNER_USER).get(NEW).context["form"]
        with acme.scope():
            codes = {r.code for r in form.fields["customer_region"].queryset}
        assert codes == {"na"}

    def test_submit_creates_a_submitted_registration_of_the_organisation(self, acme, acme_products):
        with acme.scope():
            region = Region.objects.get(code="na")
        response = acme.client(Role.PARTNER_ADMIN).post(
            NEW, form_data(acme_products, customer_region=str(region.pk))
        )
        [registration] = registrations(acme)
        assert response.status_code == 302
        assert response["Location"] == f"/deals/{registration.code}/"
        with acme.scope():
            assert registration.status == Status.SUBMITTED
            assert registration.partner == acme.partner
            assert registration.submitted_by == acme[Role.PARTNER_ADMIN].user
            assert registration.customer_domain == "initech.example"
            assert registration.customer_region == region
            assert registration.currency == "USD"
            assert str(registration.estimated_value) == "25000.50"
            assert set(registration.product_lines.all()) == {
                acme_products["fw"],
                acme_products["edr"],
            }

    def test_save_draft_then_edit_and_submit(self, acme, acme_products):
        client = acme.client(Role.PARTNER_USER)
        response = client.post(NEW, form_data(acme_products, action="draft", product_lines=[]))
        [draft] = registrations(acme)
        assert draft.status == Status.DRAFT
        assert response["Location"] == f"/deals/{draft.code}/"
        edit = f"/deals/{draft.code}/edit/"
        form = client.get(edit).context["form"]
        assert form["customer_name"].value() == "Initech Corporation"
        assert "client_token" not in form.fields
        data = form_data(acme_products, action="draft", customer_name="Initech Holdings")
        data.pop("client_token")
        assert client.post(edit, data).status_code == 302
        with acme.scope():
            draft.refresh_from_db()
            assert draft.customer_name == "Initech Holdings"
            assert draft.status == Status.DRAFT
            assert draft.product_lines.count() == 2
        data["action"] = "submit"
        assert client.post(edit, data).status_code == 302
        with acme.scope():
            draft.refresh_from_db()
        assert draft.status == Status.SUBMITTED
        assert len(registrations(acme)) == 1
        # A submitted registration is no longer edited through the form.
        response = client.get(edit)
        assert response.status_code == 302 and response["Location"] == f"/deals/{draft.code}/"

    def test_a_double_submit_saves_once(self, acme, acme_products):
        client = acme.client(Role.PARTNER_USER)
        data = form_data(acme_products)
        first = client.post(NEW, data)
        second = client.post(NEW, data)
        [registration] = registrations(acme)
        assert first["Location"] == second["Location"] == f"/deals/{registration.code}/"

    def test_a_token_already_used_by_another_partner_reveals_nothing(self, acme, acme_products):
        with acme.scope():
            rival = factories.make_member(
                acme.tenant, Role.PARTNER_USER, partner=acme.other_partner
            )
        data = form_data(acme_products, customer_name="Rival Secret Deal")
        rival_client = acme.client(Role.PARTNER_USER)
        rival_client.force_login(rival.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        assert rival_client.post(NEW, data).status_code == 302
        [theirs] = registrations(acme)
        response = acme.client(Role.PARTNER_USER).post(NEW, data)
        assert response.status_code == 400
        page = response.content.decode()
        assert "This form has expired" in page
        assert theirs.code not in page
        assert len(registrations(acme)) == 1

    def test_custom_fields_are_stored_as_json_safe_values(self, acme, acme_products, custom_fields):
        data = form_data(
            acme_products,
            cf_seats="250",
            cf_budget_date="2026-01-15",
            cf_stage="Proposal",
            cf_poc="on",
            cf_incumbent="",
            cf_notes="Two sites",
        )
        assert acme.client(Role.PARTNER_USER).post(NEW, data).status_code == 302
        [registration] = registrations(acme)
        assert registration.custom_data == {
            "seats": "250",
            "budget_date": "2026-01-15",
            "stage": "Proposal",
            "poc": True,
            "notes": "Two sites",
        }

    def test_custom_values_are_shown_again_when_a_draft_is_edited(
        self, acme, acme_products, custom_fields
    ):
        client = acme.client(Role.PARTNER_USER)
        data = form_data(
            acme_products, action="draft", cf_seats="12.5", cf_budget_date="2026-02-01"
        )
        client.post(NEW, data)
        [draft] = registrations(acme)
        with acme.scope():
            DealRegistration.objects.filter(pk=draft.pk).update(
                custom_data={**draft.custom_data, "retired": "kept"}
            )
        form = client.get(f"/deals/{draft.code}/edit/").context["form"]
        assert str(form["cf_seats"].value()) == "12.5"
        assert form["cf_budget_date"].value() == date(2026, 2, 1)
        data.pop("client_token")
        data["cf_seats"] = "13"
        client.post(f"/deals/{draft.code}/edit/", data)
        with acme.scope():
            draft.refresh_from_db()
        # The answer to a question ops switched off is kept; a yes/no is always stored.
        assert draft.custom_data == {
            "seats": "13",
            "budget_date": "2026-02-01",
            "poc": False,
            "retired": "kept",
        }


class TestFieldErrors:
    def post(self, world, data):
        response = world.client(Role.PARTNER_USER).post(NEW, data)
        assert response.status_code == 400
        return response.context["form"]

    def test_past_close_date_is_shown_on_its_field(self, acme, acme_products):
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        form = self.post(acme, form_data(acme_products, expected_close_date=yesterday))
        assert form.errors["expected_close_date"] == ["The expected close date is in the past."]
        assert registrations(acme) == []

    def test_submitting_without_product_lines(self, acme, acme_products):
        form = self.post(acme, form_data(acme_products, product_lines=[]))
        assert form.errors["product_lines"] == ["Choose at least one product line."]
        assert registrations(acme) == []

    def test_a_domain_that_is_not_one(self, acme, acme_products):
        form = self.post(acme, form_data(acme_products, customer_domain="localhost"))
        assert list(form.errors) == ["customer_domain"]

    def test_zero_value_is_refused_on_submit(self, acme, acme_products):
        form = self.post(acme, form_data(acme_products, estimated_value="0"))
        assert "more than zero" in form.errors["estimated_value"][0]

    def test_form_errors_keep_the_token_and_the_input(self, acme, acme_products, custom_fields):
        data = form_data(acme_products, customer_name="", currency="dollars")
        form = self.post(acme, data)
        assert set(form.errors) == {"customer_name", "currency", "cf_seats"}
        assert str(form["client_token"].value()) == data["client_token"]
        assert form["customer_contact_name"].value() == "Bill Lumbergh"

    def test_an_inactive_partner_cannot_submit(self, acme, acme_products):
        with acme.scope():
            acme.partner.status = "suspended"
            acme.partner.save()
        form = self.post(acme, form_data(acme_products))
        assert "cannot register deals" in form.non_field_errors()[0]


class TestSubmitDraft:
    def test_submits_a_complete_draft(self, acme, products):
        with acme.scope():
            draft = services.save_draft(
                tenant=acme.tenant,
                by=acme[Role.PARTNER_USER],
                given=registration_input(products["acme"]),
            )
        response = acme.client(Role.PARTNER_ADMIN).post(f"/deals/{draft.code}/submit/")
        assert response["Location"] == f"/deals/{draft.code}/"
        with acme.scope():
            draft.refresh_from_db()
        assert draft.status == Status.SUBMITTED

    def test_an_incomplete_draft_goes_back_to_the_form(self, acme, products):
        with acme.scope():
            draft = services.save_draft(
                tenant=acme.tenant,
                by=acme[Role.PARTNER_USER],
                given=registration_input(products["acme"], product_lines=[]),
            )
        client = acme.client(Role.PARTNER_USER)
        response = client.post(f"/deals/{draft.code}/submit/")
        assert response["Location"] == f"/deals/{draft.code}/edit/"
        page = client.get(response["Location"]).content.decode()
        assert "Choose at least one product line." in page
        with acme.scope():
            draft.refresh_from_db()
        assert draft.status == Status.DRAFT


class TestAccess:
    @pytest.fixture
    def draft(self, acme, products):
        with acme.scope():
            return services.save_draft(
                tenant=acme.tenant,
                by=acme[Role.PARTNER_USER],
                given=registration_input(products["acme"]),
            )

    @pytest.mark.parametrize("action", ["edit", "submit"])
    def test_another_partners_draft_is_404(self, acme, draft, action):
        with acme.scope():
            rival = factories.make_member(
                acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner
            )
        client = Client(HTTP_HOST=acme.host)
        client.force_login(rival.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        method = client.get if action == "edit" else client.post
        assert method(f"/deals/{draft.code}/{action}/").status_code == 404

    @pytest.mark.parametrize("action", ["edit", "submit"])
    def test_another_tenants_draft_is_404(self, acme, globex, draft, action):
        client = globex.client(Role.PARTNER_USER)
        method = client.get if action == "edit" else client.post
        assert method(f"/deals/{draft.code}/{action}/").status_code == 404

    @pytest.mark.parametrize("role", sorted(STAFF_ROLES))
    def test_staff_get_403(self, acme, draft, role, acme_products):
        client = acme.client(role)
        assert client.get(f"/deals/{draft.code}/edit/").status_code == 403
        assert client.post(f"/deals/{draft.code}/submit/").status_code == 403
        assert client.post(NEW, form_data(acme_products)).status_code == 403
        assert registrations(acme) == [draft]

    def test_posts_need_the_csrf_token(self, acme, draft, acme_products):
        client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
        client.force_login(
            acme[Role.PARTNER_USER].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        assert client.post(NEW, form_data(acme_products)).status_code == 403
        assert client.post(f"/deals/{draft.code}/submit/").status_code == 403
        assert registrations(acme) == [draft]
        assert draft.status == Status.DRAFT

    def test_submit_is_post_only(self, acme, draft):
        response = acme.client(Role.PARTNER_USER).get(f"/deals/{draft.code}/submit/")
        assert response.status_code == 405
