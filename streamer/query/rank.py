"""Which candidates answer the question, best first.

Relevance is the best sentence similarity between the question's subject and the candidate's texts (its event
type in words, the VLM's description), plus a small bonus for shared keywords (FTS5 bm25). A candidate of
another class than the question names counts half; one in another zone than named does not count. Below the
floor a candidate is not a hit, which is how "no answer" is said. The rank then weighs verification (confirmed
first, rejected last) and the detector's confidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamer.config.query import QueryConfig
from streamer.query.embed import Embedder
from streamer.query.hits import Hit, HitKind
from streamer.query.question import Question

KEYWORD_WEIGHT = 0.1
OTHER_CLASS_FACTOR = 0.5
NO_ZONE_FACTOR = 0.8  # a fall (no zone of its own) when the question names a zone
VERIFICATION_FACTOR = {"confirmed": 1.0, "pending": 0.85, "unverified": 0.85, "rejected": 0.4}
GROUNDING_FACTOR = {"confirmed": 1.1, "rejected": 0.5}
# a question that asks only whether something was there is answered by the track summary, whatever the wording;
# an event that matches it by meaning (a zone entry for "was anyone in the zone") still ranks above
PRESENCE_ANSWER_RELEVANCE = 0.6


def rank(
    hits: list[Hit], question: Question, embedder: Embedder, keywords: dict[str, float], config: QueryConfig
) -> list[Hit]:
    if question.only_time:
        timed = [replace(h, relevance=1.0, score=1.0) for h in hits if h.kind is not HitKind.PRESENCE]
        return sorted(timed, key=lambda h: h.start_ts)
    if not hits:
        return []
    similarity = _similarity(question.subject, hits, embedder)
    best_keyword = max(keywords.values(), default=0.0) or 1.0
    ranked = []
    for hit, sim in zip(hits, similarity):
        if question.asks_presence and hit.kind is HitKind.PRESENCE:
            sim = max(sim, PRESENCE_ANSWER_RELEVANCE)
        relevance = sim + KEYWORD_WEIGHT * keywords.get(hit.event_id or "", 0.0) / best_keyword
        relevance *= _constraint_factor(hit, question)
        floor = config.min_presence_relevance if hit.kind is HitKind.PRESENCE else config.min_relevance
        if relevance >= floor:
            ranked.append(replace(hit, relevance=round(float(relevance), 4), score=round(score_of(hit, relevance), 4)))
    return ordered(ranked)


def score_of(hit: Hit, relevance: float) -> float:
    confidence = 0.5 if hit.confidence is None else hit.confidence
    grounding = GROUNDING_FACTOR.get(hit.grounding or "", 1.0)
    return float(relevance) * VERIFICATION_FACTOR.get(hit.verification, 0.85) * grounding * (0.7 + 0.3 * confidence)


def ordered(hits: list[Hit]) -> list[Hit]:
    return sorted(hits, key=lambda h: (-h.score, h.start_ts))


def _similarity(subject: str, hits: list[Hit], embedder: Embedder) -> list[float]:
    texts = sorted({text for hit in hits for text in hit.texts})
    vectors = dict(zip(texts, embedder.encode(texts)))
    asked = embedder.encode([subject])[0]
    return [max((float(np.dot(vectors[t], asked)) for t in hit.texts), default=0.0) for hit in hits]


def _constraint_factor(hit: Hit, question: Question) -> float:
    factor = 1.0
    if question.classes and hit.label not in question.classes and hit.kind is not HitKind.WATCH:
        factor *= OTHER_CLASS_FACTOR
    if question.zones:
        if hit.zone is None:
            factor *= NO_ZONE_FACTOR
        elif hit.zone not in question.zones:
            return 0.0
    return factor
