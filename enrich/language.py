"""Language identification with py3langid, whose model ships inside the package (nothing downloaded).

The text's own language wins over what the feed declares, except for texts too short to tell: a
headline of a few words is often misread, so then the feed's declared language (if any) is kept.
"""

from __future__ import annotations

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from newsflow.core.models import Article

_PREFIX_CHARS = 2_000  # language is clear long before this; the rest would only cost time
_MIN_LETTERS = 40  # below this many letters the model is unreliable
_MIN_PROBABILITY = 0.6


@cache
def _identifier() -> LanguageIdentifier:
    # Loaded once per process; normalised probabilities let us tell a guess from a decision.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, declared: str = "") -> str:
    """The ISO 639-1 code of `text`; `declared` (the feed's, e.g. "en-GB") when the text is too short
    or the model is unsure; "" when neither is known."""
    declared_code = declared.split("-")[0].split("_")[0].strip().lower()[:2]
    sample = text[:_PREFIX_CHARS]
    if sum(c.isalpha() for c in sample) < _MIN_LETTERS:
        return declared_code or _guess(sample)
    code, probability = _identifier().classify(sample)
    if probability < _MIN_PROBABILITY and declared_code:
        return declared_code
    return str(code)


# For a few words the full model's 97 languages invite absurd answers ("Putin" -> Quechua): short texts
# are only told apart among the languages news feeds commonly come in.
_COMMON_NEWS_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "nl", "ru", "uk", "pl", "tr", "ar", "fa", "he", "hi", "zh",
    "ja", "ko", "id", "sv", "da", "no", "fi", "cs", "el", "ro", "hu", "vi", "th",
)


@cache
def _short_text_identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_COMMON_NEWS_LANGUAGES))
    return identifier


def _guess(sample: str) -> str:
    if not any(c.isalpha() for c in sample):
        return ""
    return str(_short_text_identifier().classify(sample)[0])


def article_language(article: Article) -> str:
    """The language of an article's title and text (see detect_language)."""
    return detect_language(f"{article.title}\n{article.body or article.summary}", article.language)
