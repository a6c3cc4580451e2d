"""What caused a ledger entry, in business words ("Deal won", "Deal lost —
reversal", "Manual adjustment by Fiona Finance", "Payout PR-2026-0003"),
for the partner's statement and the admin's ledger: the entry's kind and
source are internal names.

Read from what the entry itself holds (kind, source, the description its
writer gave it, who wrote it), so a page of lines needs no further query
once ``created_by`` is selected with the entries."""

from .models import LedgerEntry

Kind = LedgerEntry.Kind
Source = LedgerEntry.Source

# A clawback's description ends with the deal's status when it was written
# ("(lost)", "(won, then reversed)").
_CLAWBACK_CAUSES = (
    ("reversed", "Win reversed — clawback"),
    ("lost", "Deal lost — reversal"),
    ("withdrawn", "Deal withdrawn — reversal"),
)


def _prefix(description: str) -> str:
    """The part before the first colon: "Payout PR-2026-0003"."""
    return description.split(":", 1)[0].strip()


def _trailing_state(description: str) -> str:
    if description.endswith(")") and "(" in description:
        return description.rsplit("(", 1)[1][:-1].strip().lower()
    return ""


def cause(entry: LedgerEntry) -> str:
    kind, source = entry.kind, entry.source
    if kind == Kind.PAYOUT:
        return _prefix(entry.description) or "Payout"
    if source == Source.MANUAL:
        who = entry.created_by.get_full_name() if entry.created_by is not None else ""
        return f"Manual adjustment by {who}" if who else "Manual adjustment by finance"
    if source == Source.DISPUTE:
        # "Dispute DSP-7KQ2M9XA resolved: <reason>"
        return f"{_prefix(entry.description) or 'Dispute resolved'} by finance"
    if source == Source.REBATE:
        return "Rebate earned" if kind == Kind.ACCRUAL else "Rebate recalculated"
    spiff = source == Source.SPIFF
    if kind == Kind.ACCRUAL:
        return "SPIFF: deal won" if spiff else "Deal won"
    if kind == Kind.CLAWBACK:
        state = _trailing_state(entry.description)
        reason = next(
            (words for word, words in _CLAWBACK_CAUSES if word in state),
            "Deal no longer qualifies — clawback",
        )
        return f"SPIFF: {reason[0].lower()}{reason[1:]}" if spiff else reason
    if kind == Kind.ADJUSTMENT:
        if entry.description.startswith("Currency corrected"):
            reason = "Deal currency corrected — reversal"
        else:
            reason = "Won amount or close date corrected"
        return f"SPIFF: {reason[0].lower()}{reason[1:]}" if spiff else reason
    return entry.get_kind_display()
