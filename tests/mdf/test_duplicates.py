"""The same invoice claimed twice in a tenant is flagged to the reviewers of
both claims, naming the other."""

from datetime import date
from decimal import Decimal

import pytest

from mdf.duplicates import (
    duplicate_claims,
    flag_duplicates,
    normalize_invoice_number,
    normalize_supplier,
)
from mdf.models import Claim
from prm.tenancy.roles import Role
from tests import factories as base

from .factories import make_claim

pytestmark = pytest.mark.django_db


def codes(claim: Claim) -> list[str]:
    claim.refresh_from_db()
    return claim.duplicate_of


@pytest.fixture
def other_user(acme):
    """A member of acme's second partner."""
    with acme.scope():
        return base.make_member(acme.tenant, Role.PARTNER_ADMIN, partner=acme.other_partner).user


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ACME Events, Inc.", "acme events"),
        ("Müller Messebau GmbH", "MULLER MESSEBAU"),
        ("Stand & Co. Ltd", "stand and co"),
        ("  Big   Venue LLC ", "Big Venue"),
    ],
)
def test_suppliers_are_compared_normalized(one, other):
    assert normalize_supplier(one) == normalize_supplier(other) != ""


def test_invoice_numbers_are_compared_as_letters_and_digits():
    assert normalize_invoice_number("INV-2024/0042") == "inv20240042"
    assert normalize_invoice_number(" inv 2024 0042 ") == "inv20240042"
    assert normalize_invoice_number("inv_2024.0042") == "inv20240042"
    assert normalize_invoice_number("INV-2024/0043") != normalize_invoice_number("INV-2024/0042")


def test_same_supplier_and_number_across_partners_flagged_both_ways(acme, other_user):
    with acme.scope():
        first = make_claim(
            acme.partner,
            acme[Role.PARTNER_USER].user,
            supplier="Acme Events, Inc.",
            invoice_number="INV-2024/0042",
            total_cost=Decimal("4000.00"),
        )
        second = make_claim(
            acme.other_partner,
            other_user,
            supplier="ACME EVENTS",
            invoice_number="inv 2024 0042",
            total_cost=Decimal("3500.00"),
        )
        assert duplicate_claims(second) == [first]
        assert flag_duplicates(second) == [first.code]
        assert second.duplicate_of == [first.code]
        assert codes(second) == [first.code]
        assert codes(first) == [second.code]
        # Flagging again changes nothing, and the first claim finds the second.
        assert flag_duplicates(second) == [first.code]
        assert flag_duplicates(first) == [second.code]
        assert codes(second) == [first.code]


def test_same_supplier_amount_and_date_is_the_same_invoice(acme):
    user = acme[Role.PARTNER_USER].user
    day = date(2026, 3, 14)
    with acme.scope():
        first = make_claim(
            acme.partner,
            user,
            supplier="Big Venue LLC",
            invoice_number="A-17",
            invoice_date=day,
            total_cost=Decimal("12500.00"),
        )
        second = make_claim(
            acme.partner,
            user,
            supplier="Big Venue",
            invoice_number="2026-0017",
            invoice_date=day,
            total_cost=Decimal("12500.00"),
        )
        other_day = make_claim(
            acme.partner,
            user,
            supplier="Big Venue",
            invoice_number="2026-0018",
            invoice_date=date(2026, 3, 15),
            total_cost=Decimal("12500.00"),
        )
        other_amount = make_claim(
            acme.partner,
            user,
            supplier="Big Venue",
            invoice_number="2026-0019",
            invoice_date=day,
            total_cost=Decimal("12500.01"),
        )
        other_supplier = make_claim(
            acme.partner,
            user,
            supplier="Small Venue",
            invoice_number="A-17",
            invoice_date=day,
            total_cost=Decimal("12500.00"),
        )
        assert flag_duplicates(second) == [first.code]
        assert codes(first) == [second.code]
        for unrelated in (other_day, other_amount, other_supplier):
            assert flag_duplicates(unrelated) == [], unrelated.invoice_number


def test_withdrawn_and_draft_claims_are_ignored(acme):
    user = acme[Role.PARTNER_USER].user
    with acme.scope():
        withdrawn = make_claim(
            acme.partner, user, invoice_number="INV-1", status=Claim.Status.WITHDRAWN
        )
        draft = make_claim(acme.partner, user, invoice_number="INV-1", status=Claim.Status.DRAFT)
        claim = make_claim(acme.partner, user, invoice_number="INV-1")
        assert flag_duplicates(claim) == []
        assert codes(withdrawn) == [] and codes(draft) == []
        # A draft is flagged against nothing until it is submitted.
        assert flag_duplicates(draft) == []
        assert codes(claim) == []


def test_withdrawing_or_correcting_a_claim_clears_the_other_flag(acme):
    user = acme[Role.PARTNER_USER].user
    with acme.scope():
        first = make_claim(acme.partner, user, invoice_number="INV-7")
        second = make_claim(acme.partner, user, invoice_number="INV-7")
        third = make_claim(acme.partner, user, invoice_number="INV-7")
        flag_duplicates(first)
        flag_duplicates(second)
        assert flag_duplicates(third) == [first.code, second.code]
        assert codes(first) == [second.code, third.code]
        assert codes(second) == [first.code, third.code]

        Claim.objects.filter(pk=second.pk).update(status=Claim.Status.WITHDRAWN)
        second.refresh_from_db()
        assert flag_duplicates(second) == []
        assert codes(first) == [third.code]
        assert codes(third) == [first.code]

        third.invoice_number = "INV-8"
        third.invoice_number_normalized = normalize_invoice_number("INV-8")
        third.total_cost = Decimal("1.00")
        third.save()
        assert flag_duplicates(third) == []
        assert codes(first) == []


def test_other_tenants_invoices_are_not_compared(acme, globex):
    with globex.scope():
        make_claim(globex.partner, globex[Role.PARTNER_USER].user, invoice_number="INV-42")
    with acme.scope():
        claim = make_claim(acme.partner, acme[Role.PARTNER_USER].user, invoice_number="INV-42")
        assert flag_duplicates(claim) == []
