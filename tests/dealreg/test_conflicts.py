"""Conflict checks: which registrations and direct opportunities count as the
same customer, how a match is scored and explained, and who is flagged."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from dealreg import conflicts, services
from dealreg.conflicts import conflicts_of, find_conflicts
from dealreg.models import (
    ActiveClaim,
    Conflict,
    DealRegistration,
    DealRegSettings,
    DirectOpportunity,
    RegistrationEvent,
)
from dealreg.tasks import check_conflicts
from partners.normalize import normalize_name
from prm.tenancy.models import Notification
from prm.tenancy.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

ConflictState = DealRegistration.ConflictState


@pytest.fixture
def rival(acme):
    with acme.scope():
        return factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="rival@acme.test"
        )


def similarity(a: str, b: str) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute("SELECT similarity(%s, %s)", [normalize_name(a), normalize_name(b)])
        value = cursor.fetchone()[0]
    return Decimal(str(value)).quantize(Decimal("0.001"))


def opportunity(world, products=(), **fields) -> DirectOpportunity:
    fields.setdefault("external_id", f"OPP-{DirectOpportunity.objects.count() + 1}")
    fields.setdefault("customer_name", "Initech Corporation")
    fields.setdefault("customer_domain", "initech.example")
    fields["customer_name_normalized"] = normalize_name(fields["customer_name"])
    made = DirectOpportunity.objects.create(tenant=world.tenant, **fields)
    made.product_lines.set(products)
    return made


def state(world, registration) -> str:
    with world.scope():
        return DealRegistration.objects.get(pk=registration.pk).conflict_state


def test_same_domain_scores_one_and_flags_both_sides(acme, submit_as, rival):
    first = submit_as(acme)
    second = submit_as(acme, member=rival, customer_name="Totally Different Name")
    with acme.scope():
        (conflict,) = Conflict.objects.filter(registration=second)
        assert conflict.other_registration_id == first.pk
        assert conflict.score == Decimal("1.000")
        assert conflict.reasons == ["same domain", "shared product: Firewall"]
        assert conflict.other_filed_first is True
        assert not Conflict.objects.filter(registration=first).exists()  # stored once
    assert state(acme, first) == state(acme, second) == ConflictState.CONFLICT


def test_similar_names_score_their_trigram_similarity(acme, submit_as, rival):
    submit_as(acme, customer_name="Initech Systems", customer_domain="")
    second = submit_as(acme, member=rival, customer_name="Initech System", customer_domain="")
    expected = similarity("Initech Systems", "Initech System")
    assert Decimal("0.6") <= expected < 1
    with acme.scope():
        (conflict,) = Conflict.objects.filter(registration=second)
        assert conflict.score == expected
        assert conflict.reasons == [f"name {expected:.2f} similar", "shared product: Firewall"]


def test_legal_forms_and_punctuation_do_not_hide_a_match(acme, submit_as, rival):
    submit_as(acme, customer_name="Initech Corporation", customer_domain="")
    second = submit_as(acme, member=rival, customer_name="INITECH, Inc.", customer_domain="")
    with acme.scope():
        assert Conflict.objects.get(registration=second).score == Decimal("1.000")


def test_dissimilar_names_and_the_tenants_threshold(acme, submit_as, rival):
    submit_as(acme, customer_name="Initech Systems", customer_domain="")
    unrelated = submit_as(acme, member=rival, customer_name="Umbrella Health", customer_domain="")
    assert state(acme, unrelated) == ConflictState.CLEAR
    with acme.scope():
        DealRegSettings.objects.update(name_similarity_threshold=Decimal("0.95"))
    close = submit_as(acme, member=rival, customer_name="Initech System", customer_domain="")
    assert state(acme, close) == ConflictState.CLEAR


def test_no_shared_product_line_no_conflict(acme, products, submit_as, rival):
    submit_as(acme)
    other = submit_as(acme, member=rival, product_lines=[products["acme"]["edr"]])
    assert state(acme, other) == ConflictState.CLEAR
    several = [products["acme"]["edr"], products["acme"]["fw"], products["acme"]["sdwan"]]
    overlapping = submit_as(acme, member=rival, product_lines=several, customer_name="Initech")
    with acme.scope():
        (conflict,) = Conflict.objects.filter(registration=overlapping)
        assert conflict.reasons == ["same domain", "name 1.00 similar", "shared product: Firewall"]


def test_the_same_partners_registrations_do_not_conflict(acme, submit_as):
    submit_as(acme)
    again = submit_as(acme, role=Role.PARTNER_ADMIN)
    assert state(acme, again) == ConflictState.CLEAR


def test_only_active_registrations_are_compared(acme, submit_as, rival):
    first = submit_as(acme)
    with acme.scope():
        services.withdraw(first, by=acme[Role.PARTNER_USER])
    second = submit_as(acme, member=rival)
    assert state(acme, second) == ConflictState.CLEAR
    with acme.scope():
        services.reject(second, by=acme[Role.OPS_ADMIN], reason="Duplicate")
    third = submit_as(acme, role=Role.PARTNER_ADMIN)
    assert state(acme, third) == ConflictState.CLEAR


def test_an_approved_registration_filed_later_still_counts_as_first(acme, submit_as, rival):
    first = submit_as(acme)
    second = submit_as(acme, member=rival)
    with acme.scope():
        services.approve(second, by=acme[Role.OPS_ADMIN])
        (conflict,) = find_conflicts(first)
        assert conflict.other_registration_id == second.pk
        assert conflict.other_filed_first is True  # it holds the customer now
        services.withdraw(second, by=rival)
        (conflict,) = find_conflicts(second)
        # Re-checked from the later filing's side: the other filed first.
        assert conflict.other_filed_first is True


def test_direct_opportunities(acme, products, submit_as):
    with acme.scope():
        same = opportunity(acme, external_id="OPP-1", products=[products["acme"]["fw"]])
        opportunity(acme, external_id="OPP-2", stage=DirectOpportunity.Stage.CLOSED_WON)
        opportunity(acme, external_id="OPP-3", products=[products["acme"]["edr"]])
        anything = opportunity(
            acme, external_id="OPP-4", customer_name="Initech", customer_domain=""
        )
    registration = submit_as(acme)
    with acme.scope():
        found = {
            c.direct_opportunity_id: c for c in Conflict.objects.filter(registration=registration)
        }
        assert set(found) == {same.pk, anything.pk}
        assert found[same.pk].reasons == [
            "direct opportunity",
            "same domain",
            "name 1.00 similar",
            "shared product: Firewall",
        ]
        assert found[anything.pk].reasons == ["direct opportunity", "name 1.00 similar"]
        assert all(c.other_filed_first for c in found.values())
    assert state(acme, registration) == ConflictState.CONFLICT


def test_recomputing_replaces_the_stored_conflicts(acme, submit_as, rival):
    first = submit_as(acme)
    second = submit_as(acme, member=rival)
    with acme.scope():
        assert len(find_conflicts(second)) == len(find_conflicts(second)) == 1
        assert Conflict.objects.filter(registration=second).count() == 1
        services.withdraw(first, by=acme[Role.PARTNER_USER])
        assert find_conflicts(second) == []
        assert not Conflict.objects.filter(registration=second).exists()


def test_other_tenants_customers_never_conflict(acme, globex, submit_as):
    submit_as(globex)
    assert state(acme, submit_as(acme)) == ConflictState.CLEAR


def test_conflicts_of_lists_both_sides_opportunities_first(acme, products, submit_as, rival):
    with acme.scope():
        opp = opportunity(acme, products=[products["acme"]["fw"]])
    first = submit_as(acme)
    second = submit_as(acme, member=rival)
    with acme.scope():
        third_member = factories.make_member(
            acme.tenant,
            Role.PARTNER_USER,
            partner=factories.make_partner(acme.tenant, "Third Partner"),
        )
    third = submit_as(acme, member=third_member, now=second.submitted_at + timedelta(hours=1))
    with acme.scope():
        rows = conflicts_of(second)
        assert rows[0]["opportunity"] == opp
        assert [row["other"] for row in rows[1:]] == [first, third]


def test_the_check_task_records_one_event_and_tells_the_approver(acme, submit_as, rival):
    submit_as(acme)
    second = submit_as(acme, member=rival)
    with acme.scope():
        check_conflicts(tenant_id=str(acme.tenant.pk), registration_id=str(second.pk))
        events = RegistrationEvent.objects.filter(registration=second, kind="conflicts_found")
        assert events.count() == 1
        assert events.get().visible_to_partner is False
        assert (
            Notification.objects.filter(
                kind="dealreg.conflicts", user=acme[Role.CHANNEL_MANAGER].user
            ).count()
            == 1
        )


def test_a_tenant_without_settings_is_checked_with_the_default_threshold(acme, submit_as, rival):
    """No settings row: the model's default (0.60), not pg_trgm's own (0.3)."""
    first = submit_as(acme, customer_name="Initech Systems", customer_domain="")
    close = submit_as(acme, member=rival, customer_name="Initech System", customer_domain="")
    loose = submit_as(acme, member=rival, customer_name="Initech", customer_domain="")
    assert Decimal("0.3") < similarity("Initech Systems", "Initech") < Decimal("0.6")
    with acme.scope():
        DealRegSettings.objects.all().delete()
        with connection.cursor() as cursor:  # what an earlier check left: not relied on
            cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.3', true)")
        assert [c.other_registration_id for c in find_conflicts(close)] == [first.pk]
        assert find_conflicts(loose) == []


def test_a_check_is_three_round_trips(acme, products, submit_as, rival, django_assert_num_queries):
    """Lock and settings; the prepared match; then clear, store and flag:
    every round trip counts at a million registrations."""
    first = submit_as(acme)
    second = submit_as(acme, member=rival)
    with acme.scope():
        opp = opportunity(acme, products=[products["acme"]["fw"]])
        with django_assert_num_queries(3):
            found = find_conflicts(second)
        assert [(c.other_registration_id, c.direct_opportunity_id) for c in found] == [
            (first.pk, None),
            (None, opp.pk),
        ]
        stored = Conflict.objects.filter(registration=second)
        assert {c.pk: (c.score, c.reasons, c.other_filed_first) for c in stored} == {
            c.pk: (c.score, c.reasons, c.other_filed_first) for c in found
        }
        assert state(acme, first) == state(acme, second) == ConflictState.CONFLICT
        services.withdraw(first, by=acme[Role.PARTNER_USER])
        opp.delete()
        # Nothing found: clear, unless another registration's check found it.
        with django_assert_num_queries(3):
            assert find_conflicts(second) == []
        assert second.conflict_state == ConflictState.CLEAR
    assert state(acme, second) == ConflictState.CLEAR


def _match_plans() -> dict[str, tuple[int, int]]:
    """The connection's prepared matches: (generic, custom) plan counts."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%dealreg_activeclaim%"],
        )
        return {name: (generic, custom) for name, generic, custom in cursor.fetchall()}


def test_the_match_is_prepared_once_per_connection_with_a_generic_plan(
    acme, products, submit_as, rival
):
    """Planning the match costs about as much as a typical run of it: it is
    a server-side prepared statement, planned once per connection, and the
    generic plan finds the same rows as a freshly planned one."""
    first = submit_as(acme)
    with acme.scope():
        opp = opportunity(acme, products=[products["acme"]["fw"]])
    checks = [submit_as(acme, member=rival) for _ in range(3)]
    before = _match_plans()
    with acme.scope():
        found = [find_conflicts(r) for r in checks]
    for result in found:
        assert {(c.other_registration_id, c.direct_opportunity_id) for c in result} == {
            (first.pk, None),
            (None, opp.pk),
        }
    after = _match_plans()
    assert {name for name, (_generic, custom) in after.items() if custom} == set()
    runs = sum(generic for generic, _ in after.values())
    assert runs - sum(generic for generic, _ in before.values()) == 3


def test_a_match_whose_placeholders_cannot_be_counted_is_refused(acme, monkeypatch):
    """Should Django ever write the match's SQL with placeholders the
    compiler does not recognise, values would land in the wrong places:
    the match is refused with a plain message and nothing is cached."""
    monkeypatch.setattr(conflicts, "_compiled", {})
    monkeypatch.setattr(conflicts, "_PLACEHOLDER", re.compile(r"%%"))
    with pytest.raises(RuntimeError, match=r"Cannot prepare the conflict match: .* 0 placeholders"):
        conflicts._compiled_match(False)
    assert conflicts._compiled == {}


def _fill_tenant(world, registration, count: int) -> None:
    """``count`` more active registrations (copies of ``registration``
    under other customer names) and as many open direct opportunities in
    ``world``'s tenant, in bulk SQL, and fresh statistics: a tenant far
    larger than the one checked, as on a shared installation."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dealreg_dealregistration
            SELECT (jsonb_populate_record(r, jsonb_build_object(
                'id', gen_random_uuid(), 'code', 'DR-' || lpad(to_hex(n), 8, '0'),
                'client_token', NULL,
                'customer_name_normalized', substr(md5(n::text), 1, 9) || ' systems',
                'customer_domain', substr(md5(n::text), 1, 9) || '.example'))).*
            FROM dealreg_dealregistration r, generate_series(1, %(count)s) n
            WHERE r.id = %(registration)s;
            INSERT INTO dealreg_directopportunity (
                id, tenant_id, external_id, customer_name, customer_name_normalized,
                customer_domain, customer_country, owner_name, owner_email, stage, currency,
                imported_at)
            SELECT gen_random_uuid(), %(tenant)s, 'BULK-' || n, md5(n::text),
                substr(md5(n::text), 2, 9) || ' labs', substr(md5(n::text), 2, 9) || '.example',
                'US', '', '', 'proposal', '', now()
            FROM generate_series(1, %(count)s) n;
            ANALYZE dealreg_dealregistration;
            ANALYZE dealreg_activeclaim;
            ANALYZE dealreg_directopportunity;
            """,
            {"count": count, "registration": registration.pk, "tenant": world.tenant.pk},
        )


def _prepared_match_plan(registration) -> tuple[dict, dict[str, str]]:
    """The generic plan of the prepared match the check ran on this
    connection (EXPLAIN EXECUTE of psycopg's statement) and the inputs'
    parameters ({"tenant": "$1", ...}; psycopg numbers named parameters in
    order of first appearance)."""
    sql, inputs = conflicts._match_sql(registration)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    assert set(names) == set(inputs)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM pg_prepared_statements "
            "WHERE NOT from_sql AND statement LIKE %s AND cardinality(parameter_types) = %s",
            ["%dealreg_activeclaim%", len(names)],
        )
        (statement,) = cursor.fetchone()
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) EXECUTE {statement} ({', '.join(['%s'] * len(names))})",
            [inputs[name] for name in names],
        )
        (plan,) = cursor.fetchone()[0]
    return plan["Plan"], {name: f"${i + 1}" for i, name in enumerate(names)}


def _index_scans(node: dict, found=None) -> dict[str, list[dict]]:
    """{index name: [plan node, ...]} of a plan."""
    found = {} if found is None else found
    if "Index Name" in node:
        found.setdefault(node["Index Name"], []).append(node)
    for child in node.get("Plans", []):
        _index_scans(child, found)
    return found


@pytest.mark.parametrize("domain", ["initech.example", ""])
def test_the_name_searches_are_limited_to_the_tenant_inside_the_index(
    acme, globex, submit_as, rival, domain
):
    """Many tenants share one installation: a name search reads only its
    own tenant's names, however many another tenant holds. The trigram
    indexes lead with the tenant, and the prepared match's generic plan
    (planned with the tenant unknown) searches them by tenant and name
    together: an index of names alone, or a tenant the index cannot use,
    fails here."""
    _fill_tenant(globex, submit_as(globex, customer_name="Globex"), 3000)
    first = submit_as(acme, customer_domain=domain)
    second = submit_as(acme, member=rival, customer_domain=domain)  # its check prepares
    with acme.scope():
        assert [c.other_registration_id for c in find_conflicts(second)] == [first.pk]
        plan, parameters = _prepared_match_plan(second)
    scans = _index_scans(plan)
    for index in ("activeclaim_tenant_name_trgm", "directopp_tenant_name_trgm"):
        assert scans.get(index), f"{index} not in the plan: {sorted(scans)}"
        for node in scans[index]:
            condition = node["Index Cond"]
            assert f"(tenant_id = {parameters['tenant']})" in condition
            assert f"(customer_name_normalized)::text % {parameters['name']})" in condition


def test_found_by_another_check_it_stays_under_review_until_that_one_is_redone(
    acme, products, submit_as, rival
):
    first = submit_as(acme)
    second = submit_as(acme, member=rival)  # its check finds the first
    with acme.scope():
        first.product_lines.set([products["acme"]["edr"]])
        assert find_conflicts(first) == []
        assert first.conflict_state == ConflictState.CONFLICT  # the second's check named it
        assert find_conflicts(second) == []
        assert find_conflicts(first) == []
        assert first.conflict_state == ConflictState.CLEAR
    assert state(acme, first) == state(acme, second) == ConflictState.CLEAR


def test_the_trigram_indexes_keep_no_pending_list():
    """Each search would read a GIN pending list in full: the trigram
    indexes are built without one (fastupdate off)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
            [["activeclaim_tenant_name_trgm", "directopp_tenant_name_trgm"]],
        )
        options = dict(cursor.fetchall())
    assert options == {
        "activeclaim_tenant_name_trgm": ["fastupdate=off"],
        "directopp_tenant_name_trgm": ["fastupdate=off"],
    }


def test_registrations_keep_room_for_heap_only_updates():
    """A check flags the registrations it conflicts with: with free space
    on their pages (fillfactor) that update adds no index entries."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'dealreg_dealregistration'")
        assert cursor.fetchone()[0] == ["fillfactor=90"]


# --- The active claims the name search reads (kept by triggers) ---------------------------


def claims(world) -> dict:
    with world.scope():
        return dict(ActiveClaim.objects.values_list("registration_id", "customer_name_normalized"))


@pytest.mark.parametrize("status", DealRegistration.Status.values)
def test_a_registration_is_claimed_exactly_while_it_is_active(acme, submit_as, status):
    """The triggers' list of active statuses is DealRegistration.ACTIVE."""
    registration = submit_as(acme)
    with acme.scope():
        DealRegistration.objects.filter(pk=registration.pk).update(status=status)
    expected = {registration.pk: "initech"} if status in DealRegistration.ACTIVE else {}
    assert claims(acme) == expected
    with acme.scope():  # and a row inserted in that state
        copy = DealRegistration.objects.get(pk=registration.pk)
        copy.pk, copy.code, copy.client_token = None, "DR-COPY0001", uuid.uuid4()
        copy.save()
    assert (copy.pk in claims(acme)) is (status in DealRegistration.ACTIVE)


def test_claims_follow_decisions_renames_and_deletion(acme, submit_as, rival):
    first = submit_as(acme)
    second = submit_as(acme, member=rival, customer_name="Umbrella", customer_domain="")
    assert claims(acme) == {first.pk: "initech", second.pk: "umbrella"}
    with acme.scope():
        services.approve(first, by=acme[Role.OPS_ADMIN], override_reason="Checked")
        assert claims(acme)[first.pk] == "initech"
        services.reject(second, by=acme[Role.OPS_ADMIN], reason="Duplicate")
        assert claims(acme) == {first.pk: "initech"}
        DealRegistration.objects.filter(pk=first.pk).update(customer_name_normalized="initrode")
        assert claims(acme) == {first.pk: "initrode"}
        DealRegistration.objects.filter(pk=first.pk).delete()
    assert claims(acme) == {}


def test_claims_are_scoped_to_their_tenant(acme, globex, submit_as):
    mine = submit_as(acme)
    theirs = submit_as(globex)
    assert set(claims(acme)) == {mine.pk}
    assert set(claims(globex)) == {theirs.pk}


def test_a_renamed_registration_is_matched_by_its_new_name(acme, submit_as, rival):
    first = submit_as(acme, customer_name="Umbrella Health", customer_domain="")
    with acme.scope():
        first.customer_name = "Initech Systems"
        first.customer_name_normalized = normalize_name(first.customer_name)
        first.save(update_fields=["customer_name", "customer_name_normalized"])
    second = submit_as(acme, member=rival, customer_name="Initech Systems", customer_domain="")
    with acme.scope():
        assert Conflict.objects.get(registration=second).other_registration_id == first.pk


def test_a_match_by_name_and_domain_is_listed_once(acme, submit_as, rival):
    first = submit_as(acme)  # Initech, initech.example
    second = submit_as(acme, member=rival, customer_name="Initech")
    with acme.scope():
        (conflict,) = Conflict.objects.filter(registration=second)
    assert conflict.other_registration_id == first.pk
    assert conflict.reasons == ["same domain", "name 1.00 similar", "shared product: Firewall"]
