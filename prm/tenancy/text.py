"""Words for numbers: "1 invitation", "2,400 invitations"."""


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` with thousands separators and the noun in the right number
    ("1 registration", "0 registrations", "1,204 registrations")."""
    noun = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {noun}"
