"""Agreement text in Markdown rendered safely: no raw HTML, no script,
links only to http, https and mailto addresses, no images."""

import pytest

from onboarding.markdown import allowed_link, render


def test_commonmark_is_rendered():
    html = render(
        "# Terms\n\n**Bold** and *italic*.\n\n- one\n- two\n\n| a | b |\n|-|-|\n| 1 | 2 |"
    )
    assert "<h1>Terms</h1>" in html
    assert "<strong>Bold</strong>" in html and "<em>italic</em>" in html
    assert "<li>one</li>" in html and "<td>1</td>" in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<div onclick=alert(1)>block</div>",
        "<iframe src=https://evil.test></iframe>",
        '<a href="javascript:alert(1)">x</a>',
        "<style>body{display:none}</style>",
    ],
)
def test_raw_html_shows_as_text(text):
    html = render(text)
    for tag in ("<script", "<img", "<div", "<iframe", "<a ", "<style"):
        assert tag not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/path",
        "file:///etc/passwd",
    ],
)
def test_links_are_limited_to_http_https_and_mailto(link):
    html = render(f"[click]({link}) and <{link}>")
    assert "<a " not in html
    assert "href" not in html


def test_safe_links_get_noopener():
    html = render("[site](https://vendor.test/terms) [mail](mailto:legal@vendor.test)")
    assert '<a href="https://vendor.test/terms" rel="noopener noreferrer">site</a>' in html
    assert 'href="mailto:legal@vendor.test"' in html


def test_images_are_not_loaded():
    html = render("![logo](https://tracker.test/pixel.png)")
    assert "<img" not in html
    # The address stays visible as a link, as any link.
    assert 'href="https://tracker.test/pixel.png"' in html


def test_allowed_link():
    assert allowed_link("https://a.test") and allowed_link("mailto:a@b.test")
    assert not allowed_link("javascript:x") and not allowed_link("//a.test")
    assert not allowed_link("java\nscript:x")
