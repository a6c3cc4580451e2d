"""Words for numbers: "1 invitation", "2,400 invitations" (see prm.format.plural)."""

from prm import format as fmt


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` with thousands separators and the noun in the right number
    ("1 registration", "0 registrations", "1,204 registrations")."""
    return fmt.plural(count, singular if plural_form is None else f"{singular},{plural_form}")
