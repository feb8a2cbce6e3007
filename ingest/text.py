"""Turning feed markup into clean, inert text.

Everything a feed says is untrusted: titles and bodies may carry HTML, scripts, entities, control
characters or broken Unicode. What leaves this module is plain text only (tags removed, entities
decoded, script/style content dropped), so nothing stored can ever be executed by a reader.

Markup goes through a real HTML5 tokenizer and tree builder (Lexbor, through selectolax), which
reads any input in linear time: an unclosed tag, quote or comment costs what its length costs, never
a rescan of the rest (the regular expressions used before went quadratic on `"<script " * 4000`).
Every regular expression left here is linear by construction (single character classes, or a
lookahead that stops at the next `<`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser

MAX_TITLE_CHARS = 1_000  # longer titles are cut here and end with an ellipsis
ELLIPSIS = "…"

# C0/C1 control characters except tab/newline/CR, lone surrogates, non-characters, and invisible
# formatting that spoofs what a reader sees: zero-width space and word joiners, and the explicit
# bidirectional embeddings, overrides and isolates ("\u202eexe.live" displays as "evil.exe").
# The implicit marks (U+200E/U+200F) and zero-width (non-)joiners stay: scripts need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                      r"\ud800-\udfff\ufffe\uffff\ufeff]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_MARKUP_HINT = re.compile(r"[<&]")

# Elements whose start or end begins a new paragraph in the text.
_BLOCK = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "article", "section", "header", "footer", "figure", "figcaption", "table", "tr", "dd", "dt",
    "dl", "hr", "aside", "main", "nav", "address",
})
# Elements whose content is never text a reader sees.
_DROP = ("script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head", "title",
         "select", "button")

# Before the tokenizer reads the markup, three linear substitutions (each looks at one tag name at
# a time and never past it):
# - where a block (or table cell, or dropped) tag starts, a paragraph break (or a space) is written just
#   before the tag, so the tokenizer keeps it as text at exactly that place (one C-level pass
#   instead of a Python call per element; inside an attribute value or a dropped element the
#   whitespace is harmless). A name ends at a non-word character: `<pre` is not `<p`.
# - every other tag becomes `<wbr`, a void element with no tree-building rules: the text is the
#   same, and the tree stays flat. The HTML5 tree builder walks its stack of open elements for
#   scope checks and stray end tags, which is quadratic on 100,000 nested `<div>`s (3 s for
#   16,000); with void elements there is no stack to walk.
# - the elements whose content is dropped keep their names where the tokenizer reads their content
#   as raw text (script, style, iframe, title); the others become `object` (one name to strip, and
#   no tree rules of their own: svg and math content is foreign content, with rules as quadratic
#   as the rest; select and template have insertion modes of their own).
_NAME_END = r"(?=[\t\n\f\r />]|$)"  # where the HTML tokenizer ends a tag name
_RAW_TEXT_DROPPED = ("script", "style", "iframe", "title")
_DROPPED_AS_OBJECT = tuple(name for name in _DROP if name not in _RAW_TEXT_DROPPED)


def _alternation(words: Iterable[str]) -> str:
    """A regular expression matching any of `words`, as a prefix tree: `a(?:ddress|side)|b(?:r)...`.

    Python's engine tries alternatives one by one; sharing prefixes makes the scan of every `<` in
    a feed about a third faster than a flat list of names."""
    branches: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        branches.setdefault(word[:1], []).append(word[1:])
    parts = []
    for first, rests in branches.items():
        if not first:
            continue
        tails = [rest for rest in rests if rest]
        if not tails:
            parts.append(re.escape(first))
            continue
        tail = _alternation(tails)
        optional = "" in rests
        grouped = optional or len({rest[0] for rest in tails}) > 1
        parts.append(re.escape(first) + (f"(?:{tail})" if grouped else tail) + ("?" if optional else ""))
    return "|".join(parts)


_FLAGS = re.IGNORECASE | re.ASCII
_BLOCK_START = re.compile(rf"<(?=/?(?:{_alternation(_BLOCK)})\b)", _FLAGS)
# A table cell, or an element whose content is dropped, still separates the words around it.
_CELL_START = re.compile(rf"<(?=/?(?:t[dh]|{_alternation(_DROP)}){_NAME_END})", _FLAGS)
_INERT_TAG = re.compile(rf"</?(?!(?:{_alternation(_DROP)}){_NAME_END})[a-zA-Z][^\t\n\f\r />]*", _FLAGS)
_OBJECT_TAG = re.compile(rf"<(/?)(?:{_alternation(_DROPPED_AS_OBJECT)}){_NAME_END}", _FLAGS)
_STRIPPED = [*_RAW_TEXT_DROPPED, "object"]
# A `<` that cannot start a complete tag: not followed by a name (or `/`, `!`, `?`), or with no `>`
# before the next `<`. Used on decoded text only: "a <b and c" in prose is text, not a tag.
_NOT_A_TAG = re.compile(r"<(?![a-zA-Z/!?][^<>]*>)")


def remove_control_characters(text: str) -> str:
    """Drop control characters, lone surrogates and BOMs that would corrupt storage or display."""
    return _CONTROL.sub("", text)


def _tree_text(markup: str) -> str:
    """The visible text of an HTML fragment, with "\n\n" where blocks begin and end."""
    markup = _CELL_START.sub(" <", _BLOCK_START.sub("\n\n<", markup))
    markup = _OBJECT_TAG.sub(r"<\1object", _INERT_TAG.sub("<wbr", markup))
    tree = LexborHTMLParser(markup)
    tree.strip_tags(_STRIPPED)  # element and content
    body = tree.body
    return body.text(deep=True) if body is not None else ""


def _strip_markup(markup: str) -> str:
    # CDATA markers left in a fragment: keep the text inside (HTML would make it a comment).
    if "<![" in markup:
        markup = markup.replace("<![CDATA[", "").replace("]]>", "")
    text = _tree_text(markup)
    if "<" not in text:
        return text
    # Markup escaped twice (&amp;lt;script&amp;gt;) is a tag again after decoding: remove it too, so
    # stored text never holds anything a browser would run. The decoded text is text: its `&` are
    # not decoded again, and a `<` that does not open a complete tag stays a sign ("a < b").
    return _tree_text(_NOT_A_TAG.sub("&lt;", text.replace("&", "&amp;")))


def html_to_text(markup: str, *, paragraphs: bool = True) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace normalised.

    With `paragraphs`, block elements become paragraph breaks (a blank line between paragraphs);
    without, everything is one line (titles, summaries). Linear in the length of `markup`.
    """
    if not markup:
        return ""
    # Control characters are removed once, from the text: the tokenizer drops NULs and lone
    # surrogates itself, and entities may produce more of them (&#1; and the like).
    text = _strip_markup(markup) if _MARKUP_HINT.search(markup) else markup
    return normalise_whitespace(remove_control_characters(text), paragraphs=paragraphs)


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
