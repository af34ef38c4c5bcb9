"""Each event type in words: the sentences a question is compared with (sentence embeddings) and the start of
the one-line answer. A rule type's own words are declared in its module (its KIND); presence is worded here, and
unknown types get a generic wording."""

from __future__ import annotations

from pipelines.registry import kind_of

GENERIC_SENTENCE = "a {type} event involving a {label}"
PRESENCE_IN_ZONE = "a {label} was in the {zone} zone"
PRESENCE_IN_VIEW = "a {label} was seen on camera {camera}"

PRESENCE_ANSWERS = {"zone": "{a_label} was in zone {zone}", "view": "{a_label} was in view"}
GENERIC_ANSWER = "{a_label} triggered {type}"


def _words(name: str | None) -> str:
    return (name or "").replace("_", " ").replace("-", " ").strip()


def _fields(event_type: str, label: str, zone: str | None, rule: str | None, camera: str = "") -> dict[str, str]:
    label = label or "object"
    article = "An" if label[:1].lower() in "aeiou" else "A"
    return {
        "label": label,
        "a_label": f"{article} {label}",
        "zone": _words(zone) or "?",
        "rule": _words(rule) or "?",
        "type": _words(event_type),
        "camera": camera,
    }


def match_sentences(event_type: str, label: str, zone: str | None, rule: str | None) -> list[str]:
    """The type's sentences: its usual wording first, then others."""
    kind = kind_of(event_type)
    templates = list(kind.match_sentences) if kind is not None else [GENERIC_SENTENCE]
    return [template.format(**_fields(event_type, label, zone, rule)) for template in templates]


def presence_sentence(label: str, zone: str | None, camera: str) -> str:
    template = PRESENCE_IN_ZONE if zone else PRESENCE_IN_VIEW
    return template.format(**_fields("presence", label, zone, None, _words(camera)))


def answer_phrase(event_type: str, label: str, zone: str | None, rule: str | None) -> str:
    if event_type == "presence":
        template = PRESENCE_ANSWERS["zone" if zone else "view"]
    else:
        kind = kind_of(event_type)
        template = kind.answer if kind is not None else GENERIC_ANSWER
    return template.format(**_fields(event_type, label, zone, rule))
