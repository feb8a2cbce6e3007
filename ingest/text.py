"""Turning feed markup into clean, inert text.

Everything a feed says is untrusted: titles and bodies may carry HTML, scripts, entities, control
characters or broken Unicode. What leaves this module is plain text only (tags removed, entities
decoded, script/style content dropped), so nothing stored can ever be executed by a reader.
"""

from __future__ import annotations

import html
import re

MAX_TITLE_CHARS = 1_000  # longer titles are cut here and end with an ellipsis
ELLIPSIS = "…"

# C0/C1 control characters except tab/newline/CR, lone surrogates, and non-characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ud800-\udfff\ufffe\uffff\ufeff]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_MARKUP_HINT = re.compile(r"[<&]")

# Elements whose start or end begins a new paragraph in the text.
_BLOCK = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "article", "section", "header", "footer", "figure", "figcaption", "table", "tr", "dd", "dt",
    "dl", "hr", "aside", "main", "nav", "address",
})
# Elements whose content is never text a reader sees.
_DROP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "embed", "svg",
                   "math", "head", "title", "select", "button"})


def remove_control_characters(text: str) -> str:
    """Drop control characters, lone surrogates and BOMs that would corrupt storage or display."""
    return _CONTROL.sub("", text)


_TAG_NAMES = "|".join(sorted(_BLOCK))
_DROP_NAMES = "|".join(sorted(_DROP))
# A tag, with quoted attribute values that may contain '>'.
_TAG_BODY = r"""[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*"""
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[|\]\]>|<![^>]*>|<\?.*?(?:\?>|\Z)", re.DOTALL)
# An element whose content is dropped; an unclosed one drops everything after it.
_DROPPED = re.compile(rf"<({_DROP_NAMES})\b{_TAG_BODY}>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(rf"</?(?:{_TAG_NAMES})\b{_TAG_BODY}>", re.IGNORECASE)
_CELL_TAG = re.compile(rf"</?(?:td|th)\b{_TAG_BODY}>", re.IGNORECASE)
_ANY_TAG = re.compile(rf"</?[a-zA-Z][a-zA-Z0-9:-]*{_TAG_BODY}>")
_ORPHAN_END = re.compile(rf"</(?:{_DROP_NAMES})\s*>", re.IGNORECASE)


def _remove_tags(text: str) -> str:
    text = _COMMENT.sub(" ", text)
    text = _DROPPED.sub(" ", text)
    text = _ORPHAN_END.sub(" ", text)
    text = _BLOCK_TAG.sub("\n\n", text)
    text = _CELL_TAG.sub(" ", text)
    return _ANY_TAG.sub("", text)


def _strip_markup(markup: str) -> str:
    # Regular expressions rather than an HTML parser: several times faster on feed-sized fragments,
    # and the result only has to be text (tags gone, never reproduced).
    text = html.unescape(_remove_tags(markup))
    # Markup escaped twice (&amp;lt;script&amp;gt;) is a tag again after decoding: remove it too,
    # so stored text never holds anything a browser would run.
    return _remove_tags(text) if "<" in text else text


def html_to_text(markup: str, *, paragraphs: bool = True) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace normalised.

    With `paragraphs`, block elements become paragraph breaks (a blank line between paragraphs);
    without, everything is one line (titles, summaries).
    """
    if not markup:
        return ""
    markup = remove_control_characters(markup)
    if _MARKUP_HINT.search(markup):
        # Entities may produce control characters (&#1; and the like): clean again.
        text = remove_control_characters(_strip_markup(markup))
    else:
        text = markup
    return normalise_whitespace(text, paragraphs=paragraphs)


def normalise_whitespace(text: str, *, paragraphs: bool = True) -> str:
    """Collapse runs of spaces; keep paragraph breaks as exactly one blank line (or none)."""
    # str.split() without arguments splits on every Unicode space (no-break, em, ideographic...).
    if not paragraphs:
        return " ".join(text.split())
    cleaned = (" ".join(block.split()) for block in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(block for block in cleaned if block)


def truncate(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Cut text to at most `limit` characters, ending with an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def clean_title(value: str) -> str:
    """A title as stored: one line of plain text, at most MAX_TITLE_CHARS characters."""
    return truncate(html_to_text(value, paragraphs=False))
