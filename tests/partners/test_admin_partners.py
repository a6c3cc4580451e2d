"""The partner directory in the tenant admin: roles, ownership across
tenants, duplicate checks as form errors, history, choices, changelist."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_perms

from partners import services
from partners.models import Contact, Partner, Region, Tier
from prm.tenancy.models import AuditEntry
from tests import factories

from .conftest import admin_url, form_post_data, new_partner_post

pytestmark = pytest.mark.django_db

CHANGELIST = admin_url("changelist")
ADD = admin_url("add")


def history_id(world, partner) -> int:
    with world.scope():
        return partner.history.order_by("-history_date").first().history_id


def count_partners(world) -> int:
    with world.scope():
        return Partner.objects.count()


class TestAccess:
    @pytest.mark.parametrize("role", ["ops_admin", "channel_manager", "finance", "executive"])
    def test_staff_see_the_directory(self, acme, role):
        response = acme.client(role).get(CHANGELIST)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Acme Reseller One" in html
        assert "Acme Distributor Two" in html

    @pytest.mark.parametrize("role", ["partner_admin", "partner_user"])
    @pytest.mark.parametrize(
        "url",
        ["/admin/", CHANGELIST, ADD, admin_url("export"), admin_url("changelist", model="tier")],
    )
    def test_partner_roles_get_403_everywhere_in_the_admin(self, acme, role, url):
        assert acme.client(role).get(url).status_code == 403

    def test_partner_roles_get_403_on_an_object(self, acme):
        url = admin_url("change", acme.partner.pk)
        assert acme.client("partner_admin").get(url).status_code == 403

    def test_anonymous_is_sent_to_log_in(self, acme):
        response = acme.client().get(CHANGELIST)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    @pytest.mark.parametrize("role", ["executive", "finance", "channel_manager"])
    def test_only_ops_may_add(self, acme, role):
        client = acme.client(role)
        with acme.scope():
            tier = acme.partner.tier
        before = count_partners(acme)
        assert client.get(ADD).status_code == 403
        assert client.post(ADD, new_partner_post(tier)).status_code == 403
        assert count_partners(acme) == before

    @pytest.mark.parametrize("role", ["executive", "finance", "channel_manager"])
    def test_only_ops_may_delete(self, acme, role):
        url = admin_url("delete", acme.partner.pk)
        client = acme.client(role)
        assert client.get(url).status_code == 403
        assert client.post(url, {"post": "yes"}).status_code == 403
        with acme.scope():
            assert Partner.objects.filter(pk=acme.partner.pk).exists()


class TestAdd:
    def test_ops_admin_adds_a_partner_with_a_contact(self, acme):
        with acme.scope():
            tier = Tier.objects.get(name="Silver")
        data = new_partner_post(
            tier,
            channel_manager=str(acme["channel_manager"].user.pk),
            **{
                "contacts-TOTAL_FORMS": "1",
                "contacts-0-name": "Nora New",
                "contacts-0-email": "nora@brand-new.example",
                "contacts-0-is_primary": "on",
            },
        )
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 302, response.context["errors"]
        assert response["Location"] == CHANGELIST
        with acme.scope():
            partner = Partner.objects.get(name="Brand New Partner")
            assert partner.tenant == acme.tenant
            assert partner.tier == tier
            assert partner.domain == "brand-new.example"
            assert partner.region.code == "na"
            assert partner.channel_manager == acme["channel_manager"].user
            assert "manage_partner" in get_perms(acme["channel_manager"].user, partner)
            contact = partner.contacts.get()
            assert (contact.email, contact.tenant, contact.is_primary) == (
                "nora@brand-new.example",
                acme.tenant,
                True,
            )
            entry = AuditEntry.objects.get(action="partner.created", object_id=str(partner.pk))
            assert entry.actor == acme["ops_admin"].user
            assert partner.history.get().history_user == acme["ops_admin"].user

    @pytest.mark.parametrize("name", ["ACME reseller one, Inc.", "Acme-Reseller One LLC"])
    def test_duplicate_name_is_a_field_error_naming_the_existing_partner(self, acme, name):
        with acme.scope():
            tier = acme.partner.tier
        before = count_partners(acme)
        response = acme.client("ops_admin").post(ADD, new_partner_post(tier, name=name))
        assert response.status_code == 200
        form = response.context["adminform"].form
        assert form.errors["name"] == [
            "A partner with this name already exists: “Acme Reseller One” (active)."
        ]
        assert "“Acme Reseller One”" in response.content.decode()
        assert count_partners(acme) == before

    def test_duplicate_domain_is_a_field_error(self, acme):
        with acme.scope():
            tier = acme.partner.tier
        before = count_partners(acme)
        data = new_partner_post(tier, website="http://www.one.acme-partners.test/team")
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["website"] == [
            "The domain one.acme-partners.test already belongs to partner “Acme Reseller One”."
        ]
        assert count_partners(acme) == before

    def test_website_that_is_not_a_domain_is_a_field_error(self, acme):
        with acme.scope():
            tier = acme.partner.tier
        data = new_partner_post(tier, website="http://localhost:8000/")
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors["website"]
        assert errors == [
            "“http://localhost:8000/” is not a valid web domain (expected e.g. example.com)."
        ]

    def test_the_same_partner_in_another_tenant_is_not_a_duplicate(self, acme, globex):
        with globex.scope():
            tier = globex.partner.tier
        data = new_partner_post(
            tier, name="Acme Reseller One", website="https://one.acme-partners.test"
        )
        response = globex.client("ops_admin").post(ADD, data)
        assert response.status_code == 302
        with globex.scope():
            assert Partner.objects.filter(name="Acme Reseller One").exists()

    @pytest.mark.parametrize("field", ["name", None])
    def test_a_refusal_from_the_service_after_the_form_passed_is_a_form_error(
        self, acme, monkeypatch, field
    ):
        # Another request adds the same partner between form validation and
        # saving: the form comes back with the reason, nothing is half-saved.
        def refuse(**kwargs):
            raise services.PartnerError("A partner with this name was just added.", field)

        monkeypatch.setattr(services, "create_partner", refuse)
        with acme.scope():
            tier = acme.partner.tier
        before = count_partners(acme)
        data = new_partner_post(
            tier,
            **{
                "contacts-TOTAL_FORMS": "1",
                "contacts-0-name": "Nora New",
                "contacts-0-email": "nora@brand-new.example",
            },
        )
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 200
        form = response.context["adminform"].form
        assert form.errors[field or "__all__"] == ["A partner with this name was just added."]
        assert form["name"].value() == "Brand New Partner"  # what was typed is kept
        assert count_partners(acme) == before
        with acme.scope():
            assert not Contact.objects.filter(email="nora@brand-new.example").exists()


class TestChoices:
    def test_add_form_choices_are_the_request_tenants(self, acme, globex):
        with globex.scope():
            factories.make_region(globex.tenant, code="emea", countries=["DE"])
        response = acme.client("ops_admin").get(ADD)
        form = response.context["adminform"].form
        with scope(tenant=acme.tenant):
            tiers = {t.pk for t in form.fields["tier"].queryset}
            regions = {r.pk for r in form.fields["region"].queryset}
            managers = set(form.fields["channel_manager"].queryset)
            assert tiers == set(Tier.objects.values_list("pk", flat=True))
            assert regions == set(Region.objects.values_list("pk", flat=True))
        assert len(tiers) == 2
        assert len(regions) == 1
        assert managers == {acme["channel_manager"].user}
        html = response.content.decode()
        with globex.scope():
            for obj in [*Tier.objects.all(), *Region.objects.all()]:
                assert str(obj.pk) not in html
        assert str(globex["channel_manager"].user.pk) not in html

    def test_another_tenants_tier_is_a_form_error(self, acme, globex):
        with globex.scope():
            globex_tier = globex.partner.tier
        before = count_partners(acme)
        response = acme.client("ops_admin").post(ADD, new_partner_post(globex_tier))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["tier"] == [
            "Select a valid choice. That choice is not one of the available choices."
        ]
        assert count_partners(acme) == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [("region", "globex_region"), ("channel_manager", "globex_manager")],
    )
    def test_another_tenants_region_or_manager_is_a_form_error(self, acme, globex, field, value):
        with globex.scope():
            values = {
                "globex_region": str(Region.objects.get().pk),
                "globex_manager": str(globex["channel_manager"].user.pk),
            }
        with acme.scope():
            tier = acme.partner.tier
        data = new_partner_post(tier, **{field: values[value]})
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
        assert count_partners(acme) == count_partners(acme)
        with acme.scope():
            assert not Partner.objects.filter(name="Brand New Partner").exists()

    def test_a_member_who_is_not_a_channel_manager_is_not_a_choice(self, acme):
        with acme.scope():
            tier = acme.partner.tier
        data = new_partner_post(tier, channel_manager=str(acme["finance"].user.pk))
        response = acme.client("ops_admin").post(ADD, data)
        assert response.status_code == 200
        assert "channel_manager" in response.context["adminform"].form.errors

    def test_changelist_filters_offer_only_the_tenants_tiers_and_regions(self, acme, globex):
        response = acme.client("ops_admin").get(CHANGELIST)
        html = response.content.decode()
        with globex.scope():
            globex_ids = [str(t.pk) for t in Tier.objects.all()]
            globex_ids += [str(r.pk) for r in Region.objects.all()]
        for pk in globex_ids:
            assert pk not in html
        with acme.scope():
            assert str(acme.partner.tier_id) in html


class TestChange:
    def test_channel_manager_changes_their_partner(self, acme):
        client = acme.client("channel_manager")
        url = admin_url("change", acme.partner.pk)
        page = client.get(url)
        assert page.status_code == 200
        data = form_post_data(page)
        assert "tier" not in data and "channel_manager" not in data  # ops decisions
        data["phone"] = "+1 555 0199"
        data["status"] = "onboarding"
        response = client.post(url, data)
        assert response.status_code == 302, response.context["errors"]
        with acme.scope():
            partner = Partner.objects.get(pk=acme.partner.pk)
            assert partner.phone == "+1 555 0199"
            assert partner.status == Partner.Status.ONBOARDING
            entry = AuditEntry.objects.get(action="partner.updated", object_id=str(partner.pk))
            assert entry.actor == acme["channel_manager"].user
            assert entry.data == {
                "status": ["active", "onboarding"],
                "phone": ["", "+1 555 0199"],
            }

    def test_channel_manager_cannot_change_tier_or_manager_by_posting_them(self, acme):
        client = acme.client("channel_manager")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(client.get(url))
        with acme.scope():
            silver = Tier.objects.get(name="Silver")
        data["tier"] = str(silver.pk)
        data["channel_manager"] = ""
        assert client.post(url, data).status_code == 302
        with acme.scope():
            partner = Partner.objects.get(pk=acme.partner.pk)
            assert partner.tier.name == "Gold"
            assert partner.channel_manager == acme["channel_manager"].user

    def test_channel_manager_gets_403_on_a_partner_not_theirs(self, acme):
        ops_page = acme.client("ops_admin").get(admin_url("change", acme.other_partner.pk))
        data = form_post_data(ops_page)
        data["phone"] = "+1 555 0666"
        client = acme.client("channel_manager")
        url = admin_url("change", acme.other_partner.pk)
        view = client.get(url)
        assert view.status_code == 200  # they may look
        assert not view.context["has_change_permission"]
        assert 'name="_save"' not in view.content.decode()
        assert client.post(url, data).status_code == 403
        with acme.scope():
            assert Partner.objects.get(pk=acme.other_partner.pk).phone == ""

    def test_channel_manager_loses_access_when_reassigned(self, acme):
        ops = acme.client("ops_admin")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(ops.get(url))
        data["channel_manager"] = ""
        assert ops.post(url, data).status_code == 302
        cm_data = form_post_data(acme.client("ops_admin").get(url))
        cm_data.pop("channel_manager")
        cm_data.pop("tier")
        cm_data["phone"] = "+1 555 0777"
        assert acme.client("channel_manager").post(url, cm_data).status_code == 403
        with acme.scope():
            assert "manage_partner" not in get_perms(acme["channel_manager"].user, acme.partner)

    def test_executive_can_view_but_not_change(self, acme):
        client = acme.client("executive")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(acme.client("ops_admin").get(url))
        view = client.get(url)
        assert view.status_code == 200
        assert "Acme Reseller One" in view.content.decode()
        assert not view.context["has_change_permission"]
        data["name"] = "Renamed by executive"
        assert client.post(url, data).status_code == 403
        with acme.scope():
            assert Partner.objects.get(pk=acme.partner.pk).name == "Acme Reseller One"

    def test_ops_admin_renaming_onto_another_partner_gets_a_field_error(self, acme):
        client = acme.client("ops_admin")
        url = admin_url("change", acme.other_partner.pk)
        data = form_post_data(client.get(url))
        data["name"] = "Acme Reseller One Ltd"
        response = client.post(url, data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["name"] == [
            "A partner with this name already exists: “Acme Reseller One” (active)."
        ]

    def test_ops_admin_saving_unchanged_is_not_a_duplicate_of_itself(self, acme):
        client = acme.client("ops_admin")
        url = admin_url("change", acme.partner.pk)
        response = client.post(url, form_post_data(client.get(url)))
        assert response.status_code == 302

    def test_ops_admin_reassigns_the_channel_manager(self, acme):
        new_manager = None
        with acme.scope():
            new_manager = factories.make_member(acme.tenant, "channel_manager").user
        client = acme.client("ops_admin")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(client.get(url))
        data["channel_manager"] = str(new_manager.pk)
        assert client.post(url, data).status_code == 302
        with acme.scope():
            assert "manage_partner" in get_perms(new_manager, acme.partner)
            assert "manage_partner" not in get_perms(acme["channel_manager"].user, acme.partner)

    def test_channel_manager_adds_a_contact_inline_on_their_partner(self, acme):
        client = acme.client("channel_manager")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(client.get(url))
        index = int(data["contacts-TOTAL_FORMS"])
        data["contacts-TOTAL_FORMS"] = str(index + 1)
        data[f"contacts-{index}-name"] = "Inline Person"
        data[f"contacts-{index}-email"] = "inline@one.acme-partners.test"
        response = client.post(url, data)
        assert response.status_code == 302, response.context["errors"]
        with acme.scope():
            contact = Contact.objects.get(email="inline@one.acme-partners.test")
            assert contact.partner == acme.partner
            assert contact.tenant == acme.tenant


class TestOtherTenant:
    @pytest.mark.parametrize("view", ["change", "history", "delete"])
    def test_another_tenants_partner_is_404(self, acme, globex, view):
        client = globex.client("ops_admin")
        url = admin_url(view, acme.partner.pk)
        assert client.get(url).status_code == 404
        assert client.post(url, {"post": "yes", "name": "Hijacked"}).status_code == 404
        with acme.scope():
            partner = Partner.objects.get(pk=acme.partner.pk)
            assert partner.name == "Acme Reseller One"

    def test_missing_and_other_tenant_look_the_same(self, acme, globex):
        client = globex.client("ops_admin")
        other = client.get(admin_url("change", acme.partner.pk))
        missing = client.get(admin_url("change", "0190aaaa-0000-7000-8000-000000000000"))
        assert other.status_code == missing.status_code == 404

    def test_another_tenants_historical_version_is_404(self, acme, globex):
        client = globex.client("ops_admin")
        acme_version = history_id(acme, acme.partner)
        # Its own id and version, and a mix of a globex partner with an acme version.
        url = reverse(
            "tenant_admin:partners_partner_simple_history", args=[acme.partner.pk, acme_version]
        )
        assert client.get(url).status_code == 404
        mixed = reverse(
            "tenant_admin:partners_partner_simple_history", args=[globex.partner.pk, acme_version]
        )
        assert client.get(mixed).status_code == 404

    def test_a_version_that_is_not_a_number_is_404(self, acme):
        url = reverse(
            "tenant_admin:partners_partner_simple_history", args=[acme.partner.pk, "latest"]
        )
        assert acme.client("ops_admin").get(url).status_code == 404

    def test_changelist_never_lists_another_tenants_partners(self, acme, globex):
        html = globex.client("ops_admin").get(CHANGELIST, {"q": "Acme"}).content.decode()
        assert "Acme Reseller One" not in html
        html = globex.client("ops_admin").get(CHANGELIST).content.decode()
        assert "Globex Reseller One" in html
        assert "Acme" not in html


class TestHistory:
    def test_history_page_shows_the_changes(self, acme):
        client = acme.client("ops_admin")
        url = admin_url("change", acme.other_partner.pk)
        data = form_post_data(client.get(url))
        data["status"] = "suspended"
        data["phone"] = "+1 555 0123"
        assert (
            client.post(url, {**data, "confirm": "yes"}).status_code == 302
        )  # suspending asks first
        response = client.get(admin_url("history", acme.other_partner.pk))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Acme Distributor Two" in html
        records = list(response.context["page_obj"])
        assert len(records) == 2
        latest = records[0]
        assert latest.history_user == acme["ops_admin"].user
        changed = {c["field"]: (c["old"], c["new"]) for c in latest.history_delta_changes}
        assert changed["Status"] == ("active", "suspended")
        assert changed["Phone"] == ("", "+1 555 0123")
        assert "suspended" in html
        assert "+1 555 0123" in html

    @pytest.mark.parametrize("role", ["ops_admin", "executive", "channel_manager"])
    def test_historical_version_page_opens(self, acme, role):
        version = history_id(acme, acme.other_partner)
        url = reverse(
            "tenant_admin:partners_partner_simple_history",
            args=[acme.other_partner.pk, version],
        )
        response = acme.client(role).get(url)
        assert response.status_code == 200
        assert "Acme Distributor Two" in response.content.decode()

    @pytest.mark.parametrize(
        ("role", "partner_attr"),
        [
            ("executive", "partner"),
            ("finance", "partner"),
            ("channel_manager", "other_partner"),
        ],
    )
    def test_historical_version_page_cannot_be_used_to_change(self, acme, role, partner_attr):
        partner = getattr(acme, partner_attr)
        data = form_post_data(acme.client("ops_admin").get(admin_url("change", partner.pk)))
        data["name"] = "Changed through history"
        version = history_id(acme, partner)
        url = reverse("tenant_admin:partners_partner_simple_history", args=[partner.pk, version])
        response = acme.client(role).post(url, data)
        assert response.status_code == 403
        with acme.scope():
            assert Partner.objects.get(pk=partner.pk).name == partner.name

    def test_reverting_through_the_history_page_is_disabled_even_for_ops(self, acme):
        partner = acme.other_partner
        data = form_post_data(acme.client("ops_admin").get(admin_url("change", partner.pk)))
        data["name"] = "Changed through history"
        version = history_id(acme, partner)
        url = reverse("tenant_admin:partners_partner_simple_history", args=[partner.pk, version])
        assert acme.client("ops_admin").post(url, data).status_code == 403
        with acme.scope():
            assert Partner.objects.get(pk=partner.pk).name == partner.name

    def test_tier_history_cannot_be_used_to_change_a_tier(self, acme):
        with acme.scope():
            tier = Tier.objects.get(name="Gold")
            version = tier.history.first().history_id
        url = reverse("tenant_admin:partners_tier_simple_history", args=[tier.pk, version])
        data = {"name": "Hacked", "rank": "3", "benefits": ""}
        assert acme.client("executive").post(url, data).status_code == 403
        with acme.scope():
            assert Tier.objects.get(pk=tier.pk).name == "Gold"


class TestDelete:
    def test_ops_admin_deletes_through_the_service(self, acme):
        client = acme.client("ops_admin")
        partner = acme.other_partner
        with acme.scope():
            services.assign_channel_manager(partner, acme["channel_manager"].user, by=None)
        url = admin_url("delete", partner.pk)
        assert client.get(url).status_code == 200
        response = client.post(url, {"post": "yes"})
        assert response.status_code == 302
        with acme.scope():
            assert not Partner.objects.filter(pk=partner.pk).exists()
            assert not Contact.objects.filter(partner_id=partner.pk).exists()
            entry = AuditEntry.objects.get(action="partner.deleted", object_id=str(partner.pk))
            assert entry.actor == acme["ops_admin"].user
            assert entry.object_repr == "Acme Distributor Two"
        assert not UserObjectPermission.objects.filter(object_pk=str(partner.pk)).exists()

    def test_a_partner_with_portal_people_cannot_be_deleted(self, acme):
        # Deleting it would delete their memberships, which nobody may do here.
        response = acme.client("ops_admin").post(
            admin_url("delete", acme.partner.pk), {"post": "yes"}
        )
        assert response.status_code == 403
        with acme.scope():
            assert Partner.objects.filter(pk=acme.partner.pk).exists()


class TestChangelist:
    def test_assigned_to_me_filter(self, acme):
        client = acme.client("channel_manager")
        mine = client.get(CHANGELIST, {"manager": "me"})
        names = [p.name for p in mine.context["cl"].result_list]
        assert names == ["Acme Reseller One"]
        unassigned = client.get(CHANGELIST, {"manager": "none"})
        assert [p.name for p in unassigned.context["cl"].result_list] == ["Acme Distributor Two"]
        assert "Assigned to me" in mine.content.decode()

    def test_assigned_to_me_is_empty_for_someone_with_no_partners(self, acme):
        response = acme.client("ops_admin").get(CHANGELIST, {"manager": "me"})
        assert list(response.context["cl"].result_list) == []

    def test_status_filter_and_search(self, acme):
        with acme.scope():
            factories.make_partner(acme.tenant, "Prospect Partner", status="prospect")
        client = acme.client("ops_admin")
        response = client.get(CHANGELIST, {"status__exact": "prospect"})
        assert [p.name for p in response.context["cl"].result_list] == ["Prospect Partner"]
        with acme.scope():
            email = acme.other_partner.contacts.get().email
        response = client.get(CHANGELIST, {"q": email})
        assert [p.name for p in response.context["cl"].result_list] == ["Acme Distributor Two"]

    def test_query_count_does_not_grow_with_the_number_of_partners(self, acme):
        client = acme.client("ops_admin")
        managers = [acme["channel_manager"].user]
        with acme.scope():
            managers.append(factories.make_member(acme.tenant, "channel_manager").user)
            emea = factories.make_region(acme.tenant, code="emea", countries=["DE"])
            na = Region.objects.get(code="na")

        def add_partners(start, stop):
            with acme.scope():
                tiers = list(Tier.objects.all())
                for i in range(start, stop):
                    partner = factories.make_partner(
                        acme.tenant,
                        f"Bulk Partner {i:02d}",
                        tier=tiers[i % 2],
                        channel_manager=managers[i % 2],
                        country="DE" if i % 3 else "US",
                    )
                    assert partner.region == (emea if i % 3 else na)
                    factories.make_contact(partner)

        def queries(**params) -> tuple[int, int]:
            client.get(CHANGELIST, params)  # warm up sessions and content types
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(CHANGELIST, params)
            assert response.status_code == 200
            return len(ctx.captured_queries), len(response.context["cl"].result_list)

        add_partners(0, 3)
        few, shown_few = queries()
        few_search, _ = queries(q="Bulk")
        add_partners(3, 30)
        many, shown_many = queries()
        many_search, _ = queries(q="Bulk")
        assert (shown_few, shown_many) == (5, 32)
        assert many == few
        assert many_search == few_search

    def test_changelist_query_count_is_bounded(self, acme, django_assert_max_num_queries):
        with acme.scope():
            for i in range(30):
                factories.make_partner(acme.tenant, f"Many {i}")
        client = acme.client("channel_manager")
        client.get(CHANGELIST)
        with django_assert_max_num_queries(15):
            assert client.get(CHANGELIST).status_code == 200


class TestContacts:
    CONTACT_ADD = admin_url("add", model="contact")

    def _contact_data(self, partner, **extra) -> dict:
        data = {
            "partner": str(partner.pk),
            "name": "Sam Sneaky",
            "email": "sam@example.test",
            "phone": "",
            "title": "",
        }
        data.update(extra)
        return data

    def test_channel_manager_adds_a_contact_to_their_partner(self, acme):
        response = acme.client("channel_manager").post(
            self.CONTACT_ADD, self._contact_data(acme.partner)
        )
        assert response.status_code == 302
        with acme.scope():
            assert Contact.objects.get(email="sam@example.test").partner == acme.partner

    def test_channel_manager_cannot_add_a_contact_to_a_partner_not_theirs(self, acme):
        response = acme.client("channel_manager").post(
            self.CONTACT_ADD, self._contact_data(acme.other_partner)
        )
        assert response.status_code == 200
        assert "partner" in response.context["adminform"].form.errors
        with acme.scope():
            assert not Contact.objects.filter(email="sam@example.test").exists()

    def test_channel_manager_cannot_move_a_contact_to_a_partner_not_theirs(self, acme):
        with acme.scope():
            contact = acme.partner.contacts.get()
        url = admin_url("change", contact.pk, model="contact")
        data = self._contact_data(acme.other_partner, email=contact.email, name=contact.name)
        response = acme.client("channel_manager").post(url, data)
        assert response.status_code == 200
        assert "partner" in response.context["adminform"].form.errors
        with acme.scope():
            assert Contact.objects.get(pk=contact.pk).partner == acme.partner

    def test_channel_manager_gets_403_changing_a_contact_not_theirs(self, acme):
        with acme.scope():
            contact = acme.other_partner.contacts.get()
        url = admin_url("change", contact.pk, model="contact")
        data = self._contact_data(acme.other_partner, email=contact.email, name="Renamed")
        assert acme.client("channel_manager").post(url, data).status_code == 403

    def test_ops_admin_adds_a_contact_to_any_partner(self, acme):
        response = acme.client("ops_admin").post(
            self.CONTACT_ADD, self._contact_data(acme.other_partner)
        )
        assert response.status_code == 302

    def test_another_tenants_partner_is_not_a_choice(self, acme, globex):
        response = acme.client("ops_admin").post(
            self.CONTACT_ADD, self._contact_data(globex.partner)
        )
        assert response.status_code == 200
        assert "partner" in response.context["adminform"].form.errors


@pytest.mark.django_db
class TestClosingAPartnerAsksFirst:
    def test_terminating_states_the_consequence_and_waits_for_confirm(self, acme, globex):
        client = acme.client("ops_admin")
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(client.get(url))
        data["status"] = "terminated"
        asked = client.post(url, data)
        assert asked.status_code == 200
        assert asked.templates[0].name == "admin/confirm.html"
        page = asked.content.decode()
        assert f"Terminate {acme.partner.name}?" in page
        assert f"{acme.partner.name} can no longer register deals." in page
        assert "Nobody can be invited to it any more." in page
        assert "2 active people keep their sign-in" in page
        with acme.scope():
            assert Partner.objects.get(pk=acme.partner.pk).status == "active"
        done = client.post(url, {**data, "confirm": "yes"})
        assert done.status_code == 302
        with acme.scope():
            assert Partner.objects.get(pk=acme.partner.pk).status == "terminated"

    def test_other_tenant_404_and_wrong_role_403(self, acme, globex):
        url = admin_url("change", acme.partner.pk)
        data = form_post_data(acme.client("ops_admin").get(url))
        data["status"] = "suspended"
        assert globex.client("ops_admin").post(url, data).status_code == 404
        assert acme.client("finance").post(url, data).status_code == 403
        with acme.scope():
            assert Partner.objects.get(pk=acme.partner.pk).status == "active"


@pytest.mark.django_db
def test_the_changelist_shows_statuses_as_the_shared_chips(acme):
    with acme.scope():
        acme.other_partner.status = Partner.Status.SUSPENDED
        acme.other_partner.save()
        active = acme.partner.get_status_display()
    page = acme.client("ops_admin").get(CHANGELIST).content.decode()
    assert f'<span class="chip chip-ok">{active}</span>' in page
    assert '<span class="chip chip-bad">Suspended</span>' in page
    assert "prm-admin.css" in page  # the admin wears the portal's palette
