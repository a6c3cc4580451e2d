"""Agreement text written in Markdown, rendered safely for the portal and
the admin's preview.

CommonMark (markdown-it-py) with raw HTML off, so ``<script>`` or an
``<img onerror>`` typed into the text shows as text; links and images
only where their address is http, https or mailto (anything else stays
plain text); then ``nh3`` cleans the result against an explicit allow-list
of tags and attributes, so whatever the parser might let through, only
these reach the page. Links get ``rel="noopener noreferrer"``. Images are
not rendered (an agreement loads nothing from elsewhere): their Markdown
shows as a link to the image instead.
"""

from functools import cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

SCHEMES = frozenset({"http", "https", "mailto"})
TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "s",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
# Removed with what they hold, should one ever get this far.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "template"})


def allowed_link(url: str) -> bool:
    """Whether a link's address may be a link: an absolute http, https or
    mailto address (control characters and spaces before the scheme, as
    in ``java\\nscript:``, make it none of these)."""
    scheme, colon, _ = url.partition(":")
    return bool(colon) and scheme.lower() in SCHEMES and scheme.isascii() and scheme.isalpha()


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.disable("image")
    parser.validateLink = allowed_link  # type: ignore[method-assign]  # markdown-it's hook
    return parser


def render(text: str) -> SafeString:
    """``text`` (Markdown) as HTML that is safe to put in a page."""
    html = _parser().render(text or "")
    cleaned = nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 (cleaned against the allow-list just above)
