"""partners.services: creating and changing partners, duplicates, channel
manager assignment and its object permission, regions, audit."""

import re

import pytest
from django_scopes import scope
from guardian.shortcuts import get_perms

from partners import services
from partners.models import Partner
from partners.services import PartnerError, assign_channel_manager, create_partner, update_partner
from prm.tenancy.models import AuditEntry, Membership
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def _data(world, **extra) -> dict:
    data = {
        "name": "Northwind Traders",
        "website": "https://www.northwind.example/about",
        "partner_type": Partner.Type.RESELLER,
        "country": "US",
        "tier": world.partner.tier,
    }
    data.update(extra)
    return data


def manages(user, partner) -> bool:
    return "manage_partner" in get_perms(user, partner)


class TestCreatePartner:
    def test_creates_with_derived_fields_and_audit(self, in_acme):
        ops = in_acme["ops_admin"].user
        partner = create_partner(
            tenant=in_acme.tenant, by=ops, data=_data(in_acme, name="Northwind Traders, Inc.")
        )
        partner = Partner.objects.get(pk=partner.pk)
        assert partner.tenant == in_acme.tenant
        assert partner.normalized_name == "northwind traders"
        assert partner.domain == "northwind.example"
        assert partner.status == Partner.Status.PROSPECT
        assert partner.region.code == "na"  # the US is in the NA region
        entry = AuditEntry.objects.get(action="partner.created", object_id=str(partner.pk))
        assert entry.actor == ops
        assert entry.tenant == in_acme.tenant
        assert entry.object_repr == "Northwind Traders, Inc."

    def test_country_outside_every_region_leaves_region_empty(self, in_acme):
        partner = create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, country="DE"))
        assert partner.region is None

    def test_explicit_region_is_kept(self, in_acme):
        emea = factories.make_region(in_acme.tenant, code="emea", countries=["DE", "FR"])
        partner = create_partner(
            tenant=in_acme.tenant, by=None, data=_data(in_acme, country="US", region=emea)
        )
        assert partner.region == emea

    def test_region_comes_from_the_tenants_own_regions(self, in_acme, globex):
        with scope(tenant=globex.tenant):
            factories.make_region(globex.tenant, code="apac", countries=["JP"])
        partner = create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, country="JP"))
        assert partner.region is None

    @pytest.mark.parametrize(
        "name", ["Acme Reseller One", "ACME reseller one, Inc.", "acme-reseller one LLC"]
    )
    def test_duplicate_normalized_name_is_refused_naming_the_existing_partner(self, in_acme, name):
        before = Partner.objects.count()
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, name=name))
        assert excinfo.value.field == "name"
        assert "“Acme Reseller One”" in str(excinfo.value)
        assert "(active)" in str(excinfo.value)
        assert Partner.objects.count() == before

    def test_acme_corp_inc_and_acme_corp_are_the_same_partner(self, in_acme):
        first = create_partner(
            tenant=in_acme.tenant, by=None, data=_data(in_acme, name="Acme Corp., Inc.", website="")
        )
        with pytest.raises(PartnerError, match=re.escape("“Acme Corp., Inc.”")):
            create_partner(
                tenant=in_acme.tenant, by=None, data=_data(in_acme, name="ACME corp", website="")
            )
        assert Partner.objects.filter(normalized_name="acme").get() == first

    @pytest.mark.parametrize(
        "website",
        [
            "http://one.acme-partners.test/contact",
            "ONE.acme-partners.test",
            "sales@one.acme-partners.test",
        ],
    )
    def test_same_domain_is_refused_naming_the_existing_partner(self, in_acme, website):
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, website=website))
        assert excinfo.value.field == "website"
        assert "one.acme-partners.test" in str(excinfo.value)
        assert "“Acme Reseller One”" in str(excinfo.value)
        assert not Partner.objects.filter(name="Northwind Traders").exists()

    def test_same_name_and_domain_in_another_tenant_is_fine(self, acme, globex):
        with scope(tenant=acme.tenant):
            create_partner(tenant=acme.tenant, by=None, data=_data(acme))
        with scope(tenant=globex.tenant):
            partner = create_partner(tenant=globex.tenant, by=None, data=_data(globex))
            assert partner.tenant == globex.tenant
            assert Partner.objects.filter(normalized_name="northwind traders").count() == 1

    def test_invalid_website_is_refused_on_the_website_field(self, in_acme):
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, website="localhost"))
        assert excinfo.value.field == "website"
        assert "not a valid web domain" in str(excinfo.value)

    def test_name_without_letters_is_refused(self, in_acme):
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, name="---"))
        assert excinfo.value.field == "name"

    def test_missing_required_field_is_refused_as_a_field_error(self, in_acme):
        data = _data(in_acme)
        del data["partner_type"]
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=data)
        assert excinfo.value.field == "partner_type"
        assert not Partner.objects.filter(name="Northwind Traders").exists()

    def test_another_tenants_tier_is_refused(self, in_acme, globex):
        with scope(tenant=globex.tenant):
            globex_tier = globex.partner.tier
        with pytest.raises(PartnerError) as excinfo:
            create_partner(tenant=in_acme.tenant, by=None, data=_data(in_acme, tier=globex_tier))
        assert excinfo.value.field == "tier"
        assert not Partner.objects.filter(name="Northwind Traders").exists()

    def test_another_tenants_region_is_refused(self, in_acme, globex):
        with scope(tenant=globex.tenant):
            globex_region = factories.make_region(globex.tenant, code="emea", countries=["DE"])
        with pytest.raises(PartnerError) as excinfo:
            create_partner(
                tenant=in_acme.tenant, by=None, data=_data(in_acme, region=globex_region)
            )
        assert excinfo.value.field == "region"


class TestChannelManager:
    def test_create_with_manager_grants_the_object_permission(self, in_acme):
        manager = in_acme["channel_manager"].user
        partner = create_partner(
            tenant=in_acme.tenant, by=None, data=_data(in_acme, channel_manager=manager)
        )
        assert manages(manager, partner)
        assert in_acme["channel_manager"].has_perm("partners.change_partner", partner)

    def test_fixture_partner_is_managed_other_partner_is_not(self, in_acme):
        membership = in_acme["channel_manager"]
        assert membership.has_perm("partners.change_partner", in_acme.partner)
        assert not membership.has_perm("partners.change_partner", in_acme.other_partner)

    def test_reassigning_moves_the_permission(self, in_acme):
        old = in_acme["channel_manager"].user
        new = factories.make_member(in_acme.tenant, Role.CHANNEL_MANAGER).user
        ops = in_acme["ops_admin"].user
        partner = assign_channel_manager(in_acme.partner, new, by=ops)
        assert Partner.objects.get(pk=partner.pk).channel_manager == new
        assert manages(new, partner)
        assert not manages(old, partner)
        assert not in_acme["channel_manager"].has_perm("partners.change_partner", partner)
        entry = AuditEntry.objects.get(action="partner.updated", object_id=str(partner.pk))
        assert entry.actor == ops
        assert entry.data == {"channel_manager": [str(old), str(new)]}

    def test_unassigning_revokes_the_permission(self, in_acme):
        manager = in_acme["channel_manager"].user
        assign_channel_manager(in_acme.partner, None, by=None)
        assert Partner.objects.get(pk=in_acme.partner.pk).channel_manager is None
        assert not manages(manager, in_acme.partner)

    def test_reassigning_one_partner_leaves_the_managers_other_partners(self, in_acme):
        manager = in_acme["channel_manager"].user
        second = factories.make_partner(in_acme.tenant, "Second Managed", channel_manager=manager)
        assign_channel_manager(in_acme.partner, None, by=None)
        assert manages(manager, second)

    @pytest.mark.parametrize("role", ["ops_admin", "finance", "executive", "partner_admin"])
    def test_a_member_who_is_not_a_channel_manager_is_refused(self, in_acme, role):
        user = in_acme[role].user
        with pytest.raises(PartnerError) as excinfo:
            assign_channel_manager(in_acme.other_partner, user, by=None)
        assert excinfo.value.field == "channel_manager"
        assert "not an active channel manager" in str(excinfo.value)
        assert Partner.objects.get(pk=in_acme.other_partner.pk).channel_manager is None
        assert not manages(user, in_acme.other_partner)

    def test_an_inactive_channel_manager_is_refused(self, in_acme):
        membership = in_acme["channel_manager"]
        Membership.objects.filter(pk=membership.pk).update(is_active=False)
        with pytest.raises(PartnerError):
            assign_channel_manager(in_acme.other_partner, membership.user, by=None)

    def test_another_tenants_channel_manager_is_refused(self, acme, globex):
        globex_manager = globex["channel_manager"].user
        with scope(tenant=acme.tenant), pytest.raises(PartnerError):
            assign_channel_manager(acme.other_partner, globex_manager, by=None)
        with scope(tenant=acme.tenant):
            assert not manages(globex_manager, acme.other_partner)

    def test_refused_create_grants_nothing(self, in_acme):
        manager = in_acme["channel_manager"].user
        with pytest.raises(PartnerError):
            create_partner(
                tenant=in_acme.tenant,
                by=None,
                data=_data(in_acme, name="Acme Reseller One", channel_manager=manager),
            )
        assert sorted(p.name for p in Partner.objects.all() if manages(manager, p)) == [
            "Acme Reseller One"
        ]


class TestUpdatePartner:
    def test_updates_and_audits_the_changed_fields(self, in_acme):
        ops = in_acme["ops_admin"].user
        partner = update_partner(
            in_acme.other_partner,
            by=ops,
            data={
                "status": Partner.Status.SUSPENDED,
                "phone": "+1 555 0100",
                "name": "Acme Distributor Two",
            },
        )
        stored = Partner.objects.get(pk=partner.pk)
        assert stored.status == Partner.Status.SUSPENDED
        assert stored.phone == "+1 555 0100"
        entry = AuditEntry.objects.get(action="partner.updated", object_id=str(partner.pk))
        assert entry.actor == ops
        assert entry.data == {"status": ["active", "suspended"], "phone": ["", "+1 555 0100"]}

    def test_a_change_that_changes_nothing_writes_no_audit(self, in_acme):
        update_partner(in_acme.other_partner, by=None, data={"status": Partner.Status.ACTIVE})
        assert not AuditEntry.objects.filter(action="partner.updated").exists()

    def test_renaming_to_its_own_name_in_another_spelling_is_fine(self, in_acme):
        partner = update_partner(in_acme.partner, by=None, data={"name": "ACME Reseller One Ltd."})
        stored = Partner.objects.get(pk=partner.pk)
        assert stored.name == "ACME Reseller One Ltd."
        assert stored.normalized_name == "acme reseller one"

    def test_renaming_onto_another_partner_is_refused(self, in_acme):
        with pytest.raises(PartnerError) as excinfo:
            update_partner(in_acme.other_partner, by=None, data={"name": "acme reseller one inc"})
        assert excinfo.value.field == "name"
        assert "“Acme Reseller One”" in str(excinfo.value)
        assert Partner.objects.get(pk=in_acme.other_partner.pk).name == "Acme Distributor Two"

    def test_moving_onto_another_partners_domain_is_refused(self, in_acme):
        with pytest.raises(PartnerError) as excinfo:
            update_partner(
                in_acme.other_partner,
                by=None,
                data={"website": "https://www.one.acme-partners.test/"},
            )
        assert excinfo.value.field == "website"
        assert Partner.objects.get(pk=in_acme.other_partner.pk).domain == "two.acme-partners.test"

    def test_website_change_updates_the_domain(self, in_acme):
        update_partner(
            in_acme.other_partner, by=None, data={"website": "https://www.Two-New.example/x"}
        )
        assert Partner.objects.get(pk=in_acme.other_partner.pk).domain == "two-new.example"

    def test_country_change_moves_a_derived_region(self, in_acme):
        emea = factories.make_region(in_acme.tenant, code="emea", countries=["DE", "FR"])
        partner = in_acme.other_partner
        assert partner.region.code == "na"
        update_partner(partner, by=None, data={"country": "DE"})
        assert Partner.objects.get(pk=partner.pk).region == emea

    def test_country_change_keeps_a_region_chosen_in_the_same_change(self, in_acme):
        emea = factories.make_region(in_acme.tenant, code="emea", countries=["DE", "FR"])
        key_accounts = factories.make_region(in_acme.tenant, code="key", countries=[])
        update_partner(
            in_acme.other_partner, by=None, data={"country": "DE", "region": key_accounts}
        )
        assert Partner.objects.get(pk=in_acme.other_partner.pk).region == key_accounts
        assert emea != key_accounts

    def test_country_change_keeps_a_region_that_is_not_geographic(self, in_acme):
        key_accounts = factories.make_region(in_acme.tenant, code="key", countries=[])
        update_partner(in_acme.other_partner, by=None, data={"region": key_accounts})
        update_partner(in_acme.other_partner, by=None, data={"country": "CA"})
        assert Partner.objects.get(pk=in_acme.other_partner.pk).region == key_accounts

    def test_clearing_the_region_derives_it_again(self, in_acme):
        key_accounts = factories.make_region(in_acme.tenant, code="key", countries=[])
        update_partner(in_acme.other_partner, by=None, data={"region": key_accounts})
        update_partner(in_acme.other_partner, by=None, data={"region": None})
        assert Partner.objects.get(pk=in_acme.other_partner.pk).region.code == "na"

    def test_a_stale_instance_does_not_undo_another_change(self, in_acme):
        first = Partner.objects.get(pk=in_acme.other_partner.pk)
        second = Partner.objects.get(pk=in_acme.other_partner.pk)
        update_partner(first, by=None, data={"status": Partner.Status.SUSPENDED})
        update_partner(second, by=None, data={"phone": "+44 20 7946 0000"})
        stored = Partner.objects.get(pk=in_acme.other_partner.pk)
        assert stored.status == Partner.Status.SUSPENDED
        assert stored.phone == "+44 20 7946 0000"
        # The caller's instance shows what was saved.
        assert second.status == Partner.Status.SUSPENDED

    def test_refused_update_changes_nothing(self, in_acme):
        manager = in_acme["channel_manager"].user
        with pytest.raises(PartnerError):
            update_partner(
                in_acme.partner,
                by=None,
                data={"channel_manager": in_acme["finance"].user, "status": "suspended"},
            )
        stored = Partner.objects.get(pk=in_acme.partner.pk)
        assert stored.channel_manager == manager
        assert stored.status == Partner.Status.ACTIVE
        assert manages(manager, stored)


class TestDeletePartner:
    def test_delete_removes_the_partner_its_permissions_and_audits(self, in_acme):
        from guardian.models import UserObjectPermission

        ops = in_acme["ops_admin"].user
        partner = factories.make_partner(
            in_acme.tenant, "Short Lived", channel_manager=in_acme["channel_manager"].user
        )
        pk = partner.pk
        services.delete_partner(partner, by=ops)
        assert not Partner.objects.filter(pk=pk).exists()
        assert not UserObjectPermission.objects.filter(object_pk=str(pk)).exists()
        entry = AuditEntry.objects.get(action="partner.deleted", object_id=str(pk))
        assert entry.actor == ops
        assert entry.object_repr == "Short Lived"
