"""Credit lines and boilerplate: who wrote a story originally, who distributed it, and the text NER
should see without them.

Recognised (pure rules, no model): copyright lines ("© 2023 Bloomberg L.P", "Copyright 2019
Associated Press. All Rights Reserved."), "Distributed by Tribune Content Agency, LLC.", wire
datelines ("LONDON, Nov 30 (Reuters) -"), staff credits ("[Reporting by ...; Editing by ...]", "Photo:
..."), "Published in ..." notes, newsletter sign-ups and "Read more at ..." lines. Copyright and
datelines give `credit` (the originating outlet, its corporate suffixes dropped: "Bloomberg");
"Distributed by" gives `distributor` ("Tribune Content Agency"). All of them are cut from the NER
text, so "Bloomberg L.P Distributed" or "LLC" never become entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Corporate and legal tails of an outlet's name: "Bloomberg L.P." -> "Bloomberg".
_SUFFIX = re.compile(
    r"(?:[\s,]+(?:L\.?\s?P\.?|LLC|L\.L\.C\.|Inc\.?|Incorporated|Ltd\.?|Limited|Corp\.?|Corporation|Co\.?|"
    r"PLC|plc|GmbH|AG|S\.?A\.?|Group|Holdings|Company|Media|News Service|All rights reserved\.?|"
    r"All Rights Reserved\.?))+\.?\s*$")
# The short forms wires use for themselves.
_OUTLETS = {
    "AP": "Associated Press", "The Associated Press": "Associated Press",
    "Agence France-Presse": "AFP", "Agence France Presse": "AFP", "Thomson Reuters": "Reuters",
    "Bloomberg Finance": "Bloomberg", "Bloomberg News": "Bloomberg",
    "The New York Times Company": "The New York Times",
}
_NAME = r"[A-Z][\w&'’.\-]*(?:[ ,]+(?:[A-Z][\w&'’.\-]*|of|and|&|the|de|du))*"
_COPYRIGHT = re.compile(
    # "©" anywhere; "Copyright" or "(c)" only before a year or opening a line ("section 3(c) Congress")
    # (not after a letter: "Ã©" is a mis-decoded "é")
    r"(?:(?<![^\W\d_])©|^\s*(?:Copyright|\([cC]\))(?:\s*©)?|(?:Copyright|\([cC]\))(?:\s*©)?(?=\s*\d{4}))\s*(?:\d{4}(?:\s*[-–]\s*\d{2,4})?\s*,?\s*)?(?:by\s+)?"
    r"(?P<name>" + _NAME + r")")
_DISTRIBUTED = re.compile(r"\b(?:Distributed|Syndicated) by\s+(?P<name>" + _NAME + r")")
# "LONDON, Nov 30 (Reuters) -", "(AP) —", "WASHINGTON (Bloomberg) --": an outlet in brackets before a dash.
_DATELINE = re.compile(r"\((?P<name>Reuters|AP|AFP|Bloomberg|Xinhua|UPI|dpa|ANSA|Kyodo|IANS|PTI|"
                       r"CNN|AAP|Yonhap|TASS|Interfax|[A-Z][A-Za-z]+ News)\)\s*(?:[-–—]{1,2}|:)\s*")
# Whole lines that are boilerplate, never content.
_BOILERPLATE_LINE = re.compile(
    r"^\s*[\[(]?\s*(?:(?:Additional\s+)?(?:Reporting|Writing|Editing|Compiled|Produced|Research|Translated)"
    r"\s+by\b|(?:Photo|Image|Picture|Video)s?\s*(?:credit)?\s*:|Published in\b|(?:Originally\s+)?published"
    r"\s+(?:on|in|by)\b|Read more\b|Sign up\b|Subscribe\b|Click here\b|This (?:article|story) (?:was|first)"
    r"|Follow us\b|Related:|Distributed by\b|©|Copyright\s*(?:©|\d{4})|\([cC]\)\s*\d{4}"
    r"|Read (?:the )?full\b|Get access to\b"
    # picture and source credits written out ("Photograph by Jane Doe, Europa Press, Getty Images",
    # "Image by NASA/Creative Commons", "Credit: Ars Technica via CMG"), podcast links ("Listen to the
    # weekly podcast on Apple Podcasts, Spotify, or YouTube") and the "read more" link of Spanish,
    # French, Portuguese and German feeds ("Seguir leyendo")
    r"|(?:Photo(?:graph)?|Image|Picture|Illustration|Video|Footage)s?\s+(?:by|courtesy of|via)\s+(?-i:[A-Z])"
    r"|Credits?\s*:|(?:You can (?:also )?)?Listen\b.{0,80}\bpodcasts?\b"
    r"|(?:Seguir|Continuar) leyendo\b|Leer m[áa]s\b|Lire la suite\b|Continuer la lecture\b"
    r"|Continuar lendo\b|Leia mais\b|Weiterlesen\b"
    # an outlet's appeal for readers' money ("Become a Guardian supporter or make a contribution")
    r"|Become an? (?:[\w’'-]+ ){0,3}(?:supporter|subscriber|member|patron)s?\b)",
    re.IGNORECASE)
# Newsletter and podcast sign-ups ("For sponsor-free episodes, sign up for ... via Apple Podcasts").
_NEWSLETTER = re.compile(r"\b(?:sign up|subscribe)\b.{0,80}\b(?:newsletters?|podcasts?|episodes?)\b|"
                         r"\b(?:newsletters?|podcasts?|episodes?)\b.{0,80}\b(?:sign up|subscribe)\b",
                         re.IGNORECASE)
# Channel boilerplate, which video and aggregator feeds repeat under every item: links (a sentence
# or link list with a URL: "Facebook: http://...", "For more videos, visit http://..."), hashtags,
# "About <channel>:" paragraphs and a channel's description of itself ("TV Patrol is the flagship
# newscast of ABS-CBN.", "This is the official channel of ..."): the paragraph it opens is cut.
_URL = re.compile(r"https?://|www\.|\bbit\.ly/|\byoutu\.be/")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
# A sentence that sends the reader to the outlet's own live coverage ("See how today's Covid-19
# developments unfolded with RNZ's live blog."): the outlet promoting itself, not what it reports.
_LIVE_BLOG = re.compile(r"\b(?:(?:live ?)?blog|live coverage|live updates)\b", re.IGNORECASE)
_TO_THE_READER = re.compile(r"^\s*(?:See|Follow|Read|Catch up|Get|Keep up|Find)\b", re.IGNORECASE)
_ABOUT_LINE = re.compile(r"^\s*About\s+[A-Z][^:.!?]{0,60}:")
_SELF_DESCRIPTION = re.compile(
    r"^\s*(?:This is the official\b|[A-Z0-9][^.!?]{0,60}?\b(?:is|are)\s+(?:the|a|an)?\s*(?:[\w’'-]+\s+){0,3}"
    r"(?:flagship|official|24-hour|number one|premier|premium)\b)")
# A dateline opening the body: one to five capitalised words (place, country, state), an optional
# outlet in brackets and date, then a colon or a dash: "ISLAMABAD:", "AMMAN/BEIRUT -", "Erfoud, Morocco
# (SPX) Apr 03, 2013". A place named only there is not what the story is about (nor an entity).
_PLACE_WORD = r"(?:[A-Z][\w.'’\-]*|de|da|del|al|el|la|le|of|upon)"
_DATE = r",?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,\s*\d{4})?"
_BODY_DATELINE = re.compile(
    r"^\s*[A-Z][\w.'’\-]*(?:(?:\s*/\s*|,\s+|\s+)" + _PLACE_WORD + r"){0,5}"
    r"(?:" + _DATE + r")?(?:\s*\([^()]{1,20}\))?(?:" + _DATE + r")?\s*(?::\s|\s[-–—]{1,2}\s|$)")
# A byline opening the body on a line of its own: "By Jane Doe, John Roe and Ann Poe", "By Robin Martin, RNZ"
# (capitalised words, commas and "and" only, so "By Tuesday the rebels had left" is no byline).
_BYLINE_WORD = r"(?:[A-Z][\w.'’\-]*|de|da|van|von|al|el|bin|la|le)"
_BYLINE = re.compile(r"By\s+[A-Z][\w.'’\-]*(?:(?:,?\s+and\s+|,\s*|\s+)" + _BYLINE_WORD + r"){0,12}[ \t]*\n+")
# A source tag opening a paragraph: "[Liberian Observer]".
_SOURCE_TAG = re.compile(r"^\s*\[[A-Z][^\[\]]{1,60}\]\s*")
# A source tag closing a paragraph, where blogs credit where they found the story: "[I Want One Of
# Those via GeekAlerts]", "[Technology Review via Phone Arena via Talk Android]". Only with "via": a
# closing bracket of a sentence ("[Retail Finance]") may be content.
_VIA_TAG = re.compile(r"\[[^\[\]]{0,80}\bvia\s+[A-Z][^\[\]]{0,80}\]\s*$")
# A boilerplate line ending in a colon opens a list of its own ("wherever you get your podcasts:",
# then "Spotify", "Apple Podcasts" a line each): its short lines without a sentence end are cut too.
_LIST_ITEM = re.compile(r"^\s*[^.!?]{1,40}\s*$")
_MAX_LIST_WORDS = 4
_QUICK = ("©", "(c)", "(C)", "Copyright", "by", " by", "(", "Read more", "Published", "published",
          "newsletter", "Sign up", "Subscribe", "Photo", "http", "www.", "bit.ly", "#", "About ", "official",
          "flagship", "number one", "premier", "premium", "24-hour", "[", "Read full",
          "Get access", "sign up", "subscribe", "odcast", "Image", "image", "Picture", "Illustration",
          "Video", "Footage", "Credit", "credit", "eyendo", "eer m", "Lire", "Continu", "Leia", "Weiterlesen",
          "Related:", "Become", "blog", "live")


@dataclass(frozen=True, slots=True)
class CreditLines:
    """What the credit lines of one text say, and the text without them."""

    credit: tuple[str, ...]  # originating outlets, normalised ("Bloomberg")
    distributor: tuple[str, ...]  # syndication agencies ("Tribune Content Agency")
    text: str  # the text without credit and boilerplate lines (what NER sees)
    title: str = ""  # the title without them, when it was read apart from the text


def outlet_name(raw: str) -> str:
    """An outlet's name without legal suffixes and trailing punctuation, in its usual form."""
    name = re.sub(r"\s+(?:Distributed|Syndicated|This|All|Used|Reprinted)\b.*$", "", raw)
    name = name.strip(" ,.;:-–—")
    previous = None
    while previous != name:
        previous = name
        name = _SUFFIX.sub("", name).strip(" ,.;:-–—")
    return _OUTLETS.get(name, name)


def read_credits(text: str, title: str = "") -> CreditLines:
    """Find the credit lines of a text (and of its title, given apart; else the text is "title, blank
    line, body") and cut them and other boilerplate out."""
    if not any(marker in text or marker in title for marker in _QUICK):
        return CreditLines((), (), _without_body_dateline(text, titled=bool(title)), title)
    credit: list[str] = []
    distributor: list[str] = []
    kept_title = _cut(title, credit, distributor) if title else ""
    kept = _without_body_dateline(_cut(text, credit, distributor), titled=bool(title))
    return CreditLines(tuple(dict.fromkeys(c for c in credit if len(c) > 1)),
                       tuple(dict.fromkeys(d for d in distributor if len(d) > 1)), kept, kept_title)


def _cut(text: str, credit: list[str], distributor: list[str]) -> str:
    """The text without its credit and boilerplate lines; the outlets they name added to `credit`
    and `distributor`."""
    kept: list[str] = []
    in_list = False  # the lines after a boilerplate line that ends in a colon
    for line in text.split("\n"):
        if in_list and line.strip():
            if _LIST_ITEM.match(line) and len(line.split()) <= _MAX_LIST_WORDS:
                kept.append("")
                continue
            in_list = False
        line = _without_channel_boilerplate(line)
        cut = len(line)  # a copyright or distribution notice runs to the end of its line
        for match in _DISTRIBUTED.finditer(line):
            distributor.append(outlet_name(match.group("name")))
            cut = min(cut, match.start())
        for match in _COPYRIGHT.finditer(line):
            credit.append(outlet_name(match.group("name")))
            cut = min(cut, match.start())
        for match in _DATELINE.finditer(line):
            credit.append(outlet_name(match.group("name")))
        if _BOILERPLATE_LINE.match(line) or _NEWSLETTER.search(line):
            kept.append("")  # keep the line breaks (paragraphs stay paragraphs)
            in_list = line.rstrip().endswith(":")
            continue
        kept.append(_DATELINE.sub(" - ", line[:cut]))
    return "\n".join(kept)


def _without_channel_boilerplate(line: str) -> str:
    """A line without its links, hashtags and source tag; "" for an "About ..." paragraph or one
    that opens with a channel's description of itself."""
    if _ABOUT_LINE.match(line) or _SELF_DESCRIPTION.match(line):
        return ""
    if "[" in line:
        line = _VIA_TAG.sub("", _SOURCE_TAG.sub("", line))
    if "#" in line:
        line = _HASHTAG.sub("", line)
    if _URL.search(line):
        line = " ".join(s for s in _SENTENCE_END.split(line) if not _URL.search(s))
    if _LIVE_BLOG.search(line):
        line = " ".join(s for s in _SENTENCE_END.split(line)
                        if not (_LIVE_BLOG.search(s) and _TO_THE_READER.match(s)))
    return line


def _without_body_dateline(text: str, *, titled: bool = False) -> str:
    """The text without the dateline that opens its body, if any: `text` is the body itself when the
    title came apart (`titled`), else "title, blank line, body"."""
    if titled:
        start = 0
    else:
        title_end = text.find("\n\n")
        if title_end < 0:
            return text
        start = title_end + 2
    while start < len(text) and text[start] == "\n":
        start += 1
    byline = _BYLINE.match(text, start)
    if byline is not None:
        # "By Jane Doe and John Roe\n\nLONDON (Reuters) -": a credit, and the dateline may follow it.
        text, after = text[:start] + text[byline.end():], start
        line_end = text.find("\n", after)
        line = text[after:line_end if line_end >= 0 else len(text)]
        match = _BODY_DATELINE.match(line)
        if match is None or match.end() == len(line):
            return text  # after a byline only a dateline ending in a colon or a dash: not "Reuters"
        return text[:after] + line[match.end():] + text[after + len(line):]
    line_end = text.find("\n", start)
    line = text[start:line_end if line_end >= 0 else len(text)]
    match = _BODY_DATELINE.match(line)
    if match is None or (match.end() == len(line) and len(line.split()) > 8):
        return text
    return text[:start] + line[match.end():] + text[start + len(line):]
