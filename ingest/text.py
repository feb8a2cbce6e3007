"""Turning feed markup into clean, inert text.

Everything a feed says is untrusted: titles and bodies may carry HTML, scripts, entities, control
characters or broken Unicode. What leaves this module is plain text only (tags removed, entities
decoded, script/style content dropped), so nothing stored can ever be executed by a reader.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

MAX_TITLE_CHARS = 1_000  # longer titles are cut here and end with an ellipsis
ELLIPSIS = "…"

# C0/C1 control characters except tab/newline/CR, lone surrogates, and non-characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
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


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._drop_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._drop_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._drop_depth = max(0, self._drop_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._drop_depth:
            self.parts.append(data)


def html_to_text(markup: str, *, paragraphs: bool = True) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace normalised.

    With `paragraphs`, block elements become paragraph breaks (a blank line between paragraphs);
    without, everything is one line (titles, summaries).
    """
    if not markup:
        return ""
    markup = remove_control_characters(markup)
    if _MARKUP_HINT.search(markup):
        extractor = _TextExtractor()
        try:
            extractor.feed(markup)
            extractor.close()
            text = "".join(extractor.parts)
        except (AssertionError, ValueError):  # HTMLParser on pathological input
            text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
        # Entities may have produced control characters (&#1; and the like).
        text = remove_control_characters(text)
    else:
        text = markup
    return normalise_whitespace(text, paragraphs=paragraphs)


def normalise_whitespace(text: str, *, paragraphs: bool = True) -> str:
    """Collapse runs of spaces; keep paragraph breaks as exactly one blank line (or none)."""
    if not paragraphs:
        return _SPACES.sub(" ", text.replace("\n", " ")).strip()
    blocks = re.split(r"\n\s*\n", text)
    cleaned = (" ".join(_SPACES.sub(" ", block.replace("\n", " ")).split()) for block in blocks)
    return "\n\n".join(block for block in cleaned if block)


def truncate(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """Cut text to at most `limit` characters, ending with an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def clean_title(value: str) -> str:
    """A title as stored: one line of plain text, at most MAX_TITLE_CHARS characters."""
    return truncate(html_to_text(value, paragraphs=False))
