"""Normalizing organisation names and web domains for duplicate and conflict
checks. Deal registration's customer matching uses the same functions."""

import re
import unicodedata
from urllib.parse import urlsplit

# Legal-form words dropped from the end of a name ("Acme Corp., Inc." -> "acme").
LEGAL_SUFFIXES = frozenset(
    [
        "ab",
        "ag",
        "as",
        "asa",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "kk",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "pte",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
        "ulc",
    ]
)
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")
# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A top-level domain has at least one letter (no "example.123", no IP addresses).
_TLD = re.compile(r"^(?=.*[a-z])[a-z0-9-]{2,63}$")


def normalize_name(name: str) -> str:
    """Lowercase (case-folded, so "Straße" matches "STRASSE"), accents and
    punctuation removed, ``&`` read as "and", trailing legal forms dropped
    (including compound ones such as "GmbH & Co. KG"), white space collapsed."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ")
    # Dotted abbreviations ("s.a.", "b.v.") become one word before punctuation goes.
    text = re.sub(r"\b(\w)\.(?=\w\.)", r"\1", text)
    text = _PUNCTUATION.sub(" ", text)
    words = _SPACES.sub(" ", text).strip().split(" ")
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
        # "GmbH & Co. KG", "Smith & Co.": an "and" that joined two legal
        # forms, or a name and a legal form, goes with them.
        if len(words) > 1 and words[-1] == "and":
            words.pop()
    return " ".join(w for w in words if w)


def _invalid(value: str) -> ValueError:
    return ValueError(f"“{value}” is not a valid web domain (expected e.g. example.com).")


def normalize_domain(value: str) -> str:
    """The bare host of a website or email domain: no scheme, port, path,
    ``www.`` or trailing dot; lowercase; international names in punycode.
    Returns "" for an empty value and raises ValueError, quoting the value as
    given, for one that is not a domain (IP addresses and hosts without a
    dot, such as ``localhost``, are not)."""
    given = (value or "").strip()
    text = given.lower()
    if not text:
        return ""
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise _invalid(given) from exc
    host = (parts.hostname or "").rstrip(".")
    if host.startswith("www.") and host.count(".") > 1:
        host = host[4:]
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _invalid(given) from exc
    labels = host.split(".")
    if (
        len(labels) < 2
        or len(host) > 253
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise _invalid(given)
    return host
