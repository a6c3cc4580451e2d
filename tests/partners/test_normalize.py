"""Name and domain normalization: what the duplicate checks compare."""

import pytest

from partners.normalize import normalize_domain, normalize_name


class TestNormalizeName:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Acme Corp., Inc.", "acme"),
            ("ACME corp", "acme"),
            ("Acme", "acme"),
            ("Acme Incorporated", "acme"),
            ("Acme Holdings Pty. Ltd.", "acme holdings"),
            ("Initech LLC", "initech"),
            ("Globex plc", "globex"),
            ("Foo S.A.", "foo"),
            ("Foo SA", "foo"),
            ("Van Dijk B.V.", "van dijk"),
            ("A.B.C. Ltd", "abc"),
            ("Société Générale S.A.", "societe generale"),
            ("Ångström Öl AB", "angstrom ol"),
            ("Straße AG", "strasse"),
            ("STRASSE AG", "strasse"),
            ("Müller GmbH & Co. KG", "muller"),
            ("Müller GmbH and Co KG", "muller"),
            ("Smith & Co.", "smith"),
            ("Ben & Jerry's", "ben and jerry s"),
            ("Ben and Jerry\u2019s", "ben and jerry s"),
            ("Barnes & Noble Inc", "barnes and noble"),
            ("  Lots   of\tspace  Inc ", "lots of space"),
            ("foo_bar-baz/qux", "foo bar baz qux"),
            ("ﬁrst Partner", "first partner"),
        ],
    )
    def test_normalizes(self, name, expected):
        assert normalize_name(name) == expected

    def test_legal_words_inside_the_name_are_kept(self):
        # Only trailing legal forms go; "Company" in the middle is a word of the name.
        assert normalize_name("The Company Store Inc") == "the company store"
        assert normalize_name("Co-operative Bank plc") == "co operative bank"

    def test_a_name_that_is_only_a_legal_form_keeps_it(self):
        # Stripping everything would make all such names collide on "".
        assert normalize_name("Inc.") == "inc"
        assert normalize_name("Corp Inc") == "corp"

    def test_same_company_different_spelling_collides(self):
        assert normalize_name("Acme Corp., Inc.") == normalize_name("ACME corp")
        assert normalize_name("Café Noir SARL") == normalize_name("CAFE NOIR")

    def test_different_companies_do_not_collide(self):
        assert normalize_name("Acme Security") != normalize_name("Acme")
        assert normalize_name("Ben & Jerry") != normalize_name("Ben Jerry")

    @pytest.mark.parametrize("name", ["", "   ", "---", "?!", None])
    def test_nothing_left_is_empty(self, name):
        assert normalize_name(name) == ""

    def test_ampersand_alone_reads_as_and(self):
        assert normalize_name("&") == "and"


class TestNormalizeDomain:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("https://www.example.com", "example.com"),
            ("http://www.example.com/", "example.com"),
            ("https://www.Example.com:8443/path?q=1#top", "example.com"),
            ("example.com/partners/apply", "example.com"),
            ("www.example.com.", "example.com"),
            ("  https://shop.example.co.uk  ", "shop.example.co.uk"),
            ("ftp://files.example.org", "files.example.org"),
            ("http://user:secret@example.com/", "example.com"),
            ("bob@Example.COM", "example.com"),
            ("mailto:bob@example.com", "example.com"),
            ("münchen.de", "xn--mnchen-3ya.de"),
            ("https://www.MÜNCHEN.de/", "xn--mnchen-3ya.de"),
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("my-partner.example", "my-partner.example"),
            ("www.com", "www.com"),
        ],
    )
    def test_normalizes(self, value, expected):
        assert normalize_domain(value) == expected

    @pytest.mark.parametrize("value", ["", "   ", None])
    def test_empty_is_empty(self, value):
        assert normalize_domain(value) == ""

    @pytest.mark.parametrize(
        "value",
        [
            "localhost",
            "http://localhost:8000/",
            "not a domain",
            "http://",
            "https://www.",
            "exa_mple.com",
            "ex..ample.com",
            "-foo.com",
            "foo-.com",
            "http://[::1]/",
            "192.168.0.1",
            "http://10.0.0.1:8080/",
            "example.123",
            "http://example.com:notaport/",
            "a" * 64 + ".com",
            "bob@",
        ],
    )
    def test_invalid_raises_with_the_value_given(self, value):
        with pytest.raises(ValueError) as excinfo:
            normalize_domain(value)
        message = str(excinfo.value)
        # The message quotes what the person typed, not an internal rewrite of it.
        assert f"“{value.strip()}”" in message
        assert "http://http" not in message
        assert "is not a valid web domain" in message
        assert "example.com" in message  # says what is expected
