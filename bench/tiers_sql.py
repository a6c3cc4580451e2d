"""Every active partner's qualifying tier as ONE hand-written SQL query: the
independent recomputation the tier benchmark times the evaluation against
and counts mismatches with (``make bench-tiers``; kept correct by
tests/program/test_bench_tiers.py).

It reads the published criteria version from its tables, so it follows the
criteria as data, and restates each figure (``program.figures``) as a CTE:

- won: won registrations closed in the 12 months up to the day, each
  amount times its currency's rate in force on the close date (1 in the
  base currency; a win without a rate is left out), the sum rounded half
  up to cents;
- approved: registrations decided in those 12 months (the tenant's local
  days) and not rejected;
- certified: active people with a confirmed record of the certification
  earned by the day and not expired on it;
- held: partners an agreement holds back on the day (a current version of
  an active agreement for their type, not accepted, and either nothing of
  the agreement accepted or its grace period over);
- open_plan: partners whose onboarding plan is in progress;
- health: the latest health score of the 31 days up to the day.

A tier qualifies when every required criterion is met and at least
min(counted minimum, counted criteria) of the others are; the highest
qualifying tier with criteria wins, the lowest tier otherwise.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction

from onboarding.agreements import DEFAULT_GRACE_DAYS
from program.evaluation import plan_without_jit
from program.figures import HEALTH_LOOKBACK_DAYS, year_before

QUERY = """
WITH partner AS (
    SELECT id, partner_type FROM partners_partner
    WHERE tenant_id = %(tenant)s AND status = 'active'
), target AS (
    SELECT tt.id, tt.tier_id, tt.counted_minimum, tier.rank
    FROM program_tiertarget tt
    JOIN program_criteriaversion v ON v.id = tt.version_id
    JOIN partners_tier tier ON tier.id = tt.tier_id
    WHERE v.tenant_id = %(tenant)s AND v.status = 'published'
), criterion AS (
    SELECT c.target_id, c.kind, c.certification_id, c.threshold, c.required
    FROM program_tiercriterion c JOIN target ON target.id = c.target_id
), rate AS (
    SELECT currency, valid_from, rate,
        lead(valid_from) OVER (PARTITION BY currency ORDER BY valid_from) AS valid_to
    FROM incentives_exchangerate WHERE tenant_id = %(tenant)s
), won AS (
    SELECT r.partner_id,
        round(coalesce(sum(r.won_amount * CASE WHEN r.won_currency = %(base)s THEN 1
            ELSE x.rate END), 0), 2) AS total
    FROM dealreg_dealregistration r
    LEFT JOIN rate x ON r.won_currency <> %(base)s AND x.currency = r.won_currency
        AND x.valid_from <= r.won_close_date
        AND (x.valid_to IS NULL OR x.valid_to > r.won_close_date)
    WHERE r.tenant_id = %(tenant)s AND r.status = 'won'
        AND r.won_close_date > %(year_before)s AND r.won_close_date <= %(day)s
    GROUP BY r.partner_id
), approved AS (
    SELECT partner_id, count(*) AS n FROM dealreg_dealregistration
    WHERE tenant_id = %(tenant)s AND status <> 'rejected'
        AND decided_at >= (%(first_day)s::date)::timestamp AT TIME ZONE %(zone)s
        AND decided_at < (%(day_after)s::date)::timestamp AT TIME ZONE %(zone)s
    GROUP BY partner_id
), certified AS (
    SELECT t.partner_id, t.certification_id, count(DISTINCT t.membership_id) AS people
    FROM onboarding_trainingrecord t
    JOIN tenancy_membership m ON m.id = t.membership_id AND m.is_active
    WHERE t.tenant_id = %(tenant)s AND t.status = 'confirmed' AND t.completed_on <= %(day)s
        AND (t.expires_on IS NULL OR t.expires_on > %(day)s)
        AND t.certification_id IN (
            SELECT certification_id FROM criterion WHERE certification_id IS NOT NULL)
    GROUP BY t.partner_id, t.certification_id
), current_version AS (
    SELECT DISTINCT ON (v.agreement_id) v.id, v.agreement_id, a.partner_types,
        v.effective_on + coalesce(v.grace_days, s.agreement_grace_days, %(grace)s) AS last_day
    FROM onboarding_agreementversion v
    JOIN onboarding_agreement a ON a.id = v.agreement_id AND a.is_active
    LEFT JOIN onboarding_onboardingsettings s ON s.tenant_id = v.tenant_id
    WHERE v.tenant_id = %(tenant)s AND v.effective_on <= %(day)s
        AND (v.expires_on IS NULL OR v.expires_on > %(day)s)
    ORDER BY v.agreement_id, v.number DESC
), held AS (
    SELECT DISTINCT p.id AS partner_id
    FROM partner p
    JOIN current_version cv
        ON cv.partner_types = '{}' OR p.partner_type = ANY(cv.partner_types)
    WHERE NOT EXISTS (SELECT 1 FROM onboarding_acceptance ac
                      WHERE ac.version_id = cv.id AND ac.partner_id = p.id)
        AND (cv.last_day < %(day)s OR NOT EXISTS (
            SELECT 1 FROM onboarding_acceptance ac
            JOIN onboarding_agreementversion av ON av.id = ac.version_id
            WHERE av.agreement_id = cv.agreement_id AND ac.partner_id = p.id))
), open_plan AS (
    SELECT partner_id FROM onboarding_plan
    WHERE tenant_id = %(tenant)s AND status = 'active'
), health AS (
    SELECT DISTINCT ON (partner_id) partner_id, score FROM reporting_healthscore
    WHERE tenant_id = %(tenant)s AND day <= %(day)s AND day > %(health_from)s
    ORDER BY partner_id, day DESC
), met AS (
    SELECT p.id AS partner_id, c.target_id, c.required,
        CASE c.kind
            WHEN 'won_revenue' THEN coalesce(w.total, 0) >= c.threshold
            WHEN 'approved' THEN coalesce(a.n, 0) >= c.threshold
            WHEN 'certified' THEN coalesce(ce.people, 0) >= c.threshold
            WHEN 'agreements' THEN h.partner_id IS NULL
            WHEN 'plan' THEN op.partner_id IS NULL
            WHEN 'health' THEN coalesce(hs.score >= c.threshold, false)
        END AS ok
    FROM partner p CROSS JOIN criterion c
    LEFT JOIN won w ON w.partner_id = p.id
    LEFT JOIN approved a ON a.partner_id = p.id
    LEFT JOIN certified ce ON ce.partner_id = p.id AND ce.certification_id = c.certification_id
    LEFT JOIN held h ON h.partner_id = p.id
    LEFT JOIN open_plan op ON op.partner_id = p.id
    LEFT JOIN health hs ON hs.partner_id = p.id
), qualifies AS (
    SELECT p.id AS partner_id, t.tier_id, t.rank
    FROM partner p CROSS JOIN target t
    LEFT JOIN met ON met.partner_id = p.id AND met.target_id = t.id
    GROUP BY p.id, t.id, t.tier_id, t.rank, t.counted_minimum
    HAVING coalesce(bool_and(met.ok) FILTER (WHERE met.required), true)
        AND count(*) FILTER (WHERE NOT met.required AND met.ok)
            >= least(t.counted_minimum, count(*) FILTER (WHERE NOT met.required))
), best AS (
    SELECT DISTINCT ON (partner_id) partner_id, tier_id FROM qualifies
    ORDER BY partner_id, rank DESC
)
SELECT p.id, coalesce(best.tier_id, (
    SELECT id FROM partners_tier WHERE tenant_id = %(tenant)s ORDER BY rank LIMIT 1))
FROM partner p LEFT JOIN best ON best.partner_id = p.id
"""


def params(tenant: Any, day: date) -> dict[str, Any]:
    return {
        "tenant": tenant.pk,
        "base": tenant.base_currency,
        "zone": tenant.timezone,
        "day": day,
        "year_before": year_before(day),
        "first_day": year_before(day) + timedelta(days=1),
        "day_after": day + timedelta(days=1),
        "health_from": day - timedelta(days=HEALTH_LOOKBACK_DAYS),
        "grace": DEFAULT_GRACE_DAYS,
    }


def qualifying_tiers(tenant: Any, day: date, *, jit: bool = False) -> dict[Any, Any]:
    """Active partner id → the id of the tier it qualifies for on ``day``.
    Planned as the evaluation plans its queries (without JIT compilation,
    ``program.evaluation.plan_without_jit``) unless ``jit``."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not jit:
            plan_without_jit()
        cursor.execute(QUERY, params(tenant, day))
        return dict(cursor.fetchall())


def mismatches(tenant: Any, day: date) -> list[tuple[Any, Any, Any]]:
    """(partner id, evaluation's tier id, SQL's tier id) for each active
    partner whose standing (from an evaluation on ``day``) disagrees with
    the one query, or that has no standing."""
    from program.models import TierStanding

    by_sql = qualifying_tiers(tenant, day)
    stored = dict(
        TierStanding.objects.filter(partner_id__in=list(by_sql)).values_list(
            "partner_id", "qualifying_tier_id"
        )
    )
    return [(pk, stored.get(pk), tier) for pk, tier in by_sql.items() if stored.get(pk) != tier]
