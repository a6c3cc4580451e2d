"""Each rate structure with hand-checked examples, and properties of the
money helpers: splitting, rounding and reversing never create or lose a
cent."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives.money import allocate, round_money, to_base
from incentives.rules import Rule, bracketed, deal_commission, volume_rebate

D = Decimal
BRACKETS = ((D("0"), D("5")), (D("10000"), D("8")), (D("50000"), D("10")))


def commission(amount, **rule):
    rule.setdefault("rate_type", "percent")
    return round_money(deal_commission(Rule(**rule), D(amount)), "USD")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("12345.67", "1049.38"), ("0.05", "0.00"), ("0.06", "0.01"), ("100", "8.50")],
)
def test_percentage(amount, expected):
    # 12345.67 x 8.5% = 1049.38195 -> 1049.38; 0.06 x 8.5% = 0.0051 -> 0.01
    assert commission(amount, rate_percent=D("8.5")) == D(expected)


def test_fixed_amount_per_deal():
    assert commission("1", rate_type="fixed", fixed_amount=D("250")) == D("250.00")
    assert commission("0", rate_type="fixed", fixed_amount=D("250")) == D("0.00")


@pytest.mark.parametrize(
    ("amount", "whole", "marginal"),
    [
        # 8,000: first bracket only -> 5% = 400 either way
        ("8000", "400.00", "400.00"),
        # 20,000 whole at 8% = 1,600; marginal 10,000 x 5% + 10,000 x 8% = 1,300
        ("20000", "1600.00", "1300.00"),
        # 60,000 whole at 10% = 6,000; marginal 500 + 3,200 + 1,000 = 4,700
        ("60000", "6000.00", "4700.00"),
        # exactly on a bound: the bracket that starts there
        ("10000", "800.00", "500.00"),
    ],
)
def test_brackets_whole_and_marginal(amount, whole, marginal):
    assert commission(amount, rate_type="brackets_whole", brackets=BRACKETS) == D(whole)
    assert commission(amount, rate_type="brackets_marginal", brackets=BRACKETS) == D(marginal)


def test_nothing_below_the_first_bracket():
    brackets = ((D("1000"), D("5")),)
    assert bracketed(D("999.99"), brackets, marginal=False) == 0
    assert bracketed(D("999.99"), brackets, marginal=True) == 0
    assert bracketed(D("1100"), brackets, marginal=True) == D("5")


def test_brackets_in_base_currency_apply_to_foreign_deals_at_the_rate():
    # Bounds are in USD; a EUR deal at 1.25 USD/EUR: 10,000 USD = 8,000 EUR.
    rule = Rule(rate_type="brackets_whole", brackets=BRACKETS)
    assert deal_commission(rule, D("8000"), rate=D("1.25")) == D("640")  # 8% of 8,000 EUR
    assert deal_commission(rule, D("7999"), rate=D("1.25")) == D("399.95")


def test_accelerator_pays_the_part_above_quota_at_the_multiplier():
    rule = {"rate_percent": D("10"), "quota": D("100000"), "accelerator": D("1.5")}
    # Before quota: plain 10%.
    assert commission("50000", **rule) == D("5000.00")
    # 90,000 attained, deal of 20,000: 10,000 below (1,000) + 10,000 above (1,500).
    value = deal_commission(Rule("percent", **rule), D("20000"), attainment_before=D("90000"))
    assert value == D("2500")
    # Wholly above quota: 1.5 x 10%.
    value = deal_commission(Rule("percent", **rule), D("20000"), attainment_before=D("150000"))
    assert value == D("3000")


def test_caps_per_deal_and_per_period():
    rule = Rule("percent", rate_percent=D("10"), cap_per_deal=D("1000"), cap_per_period=D("2500"))
    assert deal_commission(rule, D("50000")) == D("1000")
    assert deal_commission(rule, D("50000"), accrued_in_period=D("2000")) == D("500")
    assert deal_commission(rule, D("50000"), accrued_in_period=D("2600")) == D("0")
    # Caps are in base currency: 1,000 USD is 800 EUR at 1.25.
    assert deal_commission(rule, D("50000"), rate=D("1.25")) == D("800")


def test_volume_rebates():
    assert volume_rebate(Rule("percent", rate_percent=D("2")), D("125000")) == D("2500")
    fixed = Rule("fixed", fixed_amount=D("5000"), quota=D("100000"))
    assert volume_rebate(fixed, D("99999.99")) == 0
    assert volume_rebate(fixed, D("100000")) == D("5000")
    stepped = Rule("brackets_marginal", brackets=BRACKETS, cap_per_period=D("4000"))
    assert volume_rebate(stepped, D("60000")) == D("4000")


def test_rounding_is_half_away_from_zero_to_the_currency_minor_unit():
    assert round_money(D("0.005"), "USD") == D("0.01")
    assert round_money(D("-0.005"), "USD") == D("-0.01")
    assert round_money(D("1234.5"), "JPY") == D("1235")
    assert round_money(D("1.0005"), "KWD") == D("1.001")
    with pytest.raises(TypeError):
        round_money(1.5, "USD")


money = st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=2)
weights = st.lists(st.decimals(min_value=D("0"), max_value=D("1000"), places=3), min_size=1)


@given(total=money, weights=weights)
def test_allocate_never_creates_or_loses_a_cent(total, weights):
    parts = allocate(total, weights, "USD")
    assert sum(parts) == total
    assert len(parts) == len(weights)
    if not any(weights):  # all zero: an equal split
        weights = [D(1)] * len(weights)
    shares = [total * w / sum(weights) for w in weights]
    assert all(abs(p - share) < D("0.01") for p, share in zip(parts, shares, strict=True))


@given(
    amount=st.decimals(min_value=D("0"), max_value=D("10000000"), places=2),
    percent=st.decimals(min_value=D("0"), max_value=D("50"), places=4),
    rate=st.decimals(min_value=D("0.0001"), max_value=D("200"), places=6),
)
def test_a_reversal_nets_to_zero_in_both_currencies(amount, percent, rate):
    accrued = round_money(deal_commission(Rule("percent", rate_percent=percent), amount), "EUR")
    base = to_base(accrued, rate, "USD")
    # Reversals are exact negations (never recomputed at another rate).
    assert accrued + (-accrued) == 0 and base + (-base) == 0
    assert base == round_money(accrued * rate, "USD")


@given(
    amount=st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2),
    split=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
)
def test_marginal_brackets_are_additive_over_the_slices(amount, split):
    # Marginal brackets: commission(a) == sum over bracket slices, so it never
    # exceeds the top rate and grows with the amount.
    rule = Rule("brackets_marginal", brackets=BRACKETS)
    low = deal_commission(rule, amount * split)
    high = deal_commission(rule, amount)
    assert low <= high <= amount * D("0.10")


@given(amount=money)
def test_rounding_changes_an_amount_by_at_most_half_a_cent(amount):
    exact = amount / 3
    assert abs(round_money(exact, "USD") - exact) <= D("0.005")
