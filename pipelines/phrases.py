"""Each event type in words: the sentence a question is compared with (sentence embeddings) and the start of
the one-line answer. A new rule type adds its two lines here; unknown types get a generic wording."""

from __future__ import annotations

MATCH_SENTENCES: dict[str, str] = {
    "fall": "a {label} fell down and is lying on the ground",
    "fall/other words": "a {label} tripped, stumbled or collapsed",
    "zone_intrusion": "a {label} entered the {zone} zone",
    "line_crossing": "a {label} crossed the line {rule}",
    "dwell": "a {label} stayed in the {zone} zone for a long time, loitering",
    "count": "too many {label}s were in the {zone} zone at once",
}
GENERIC_SENTENCE = "a {type} event involving a {label}"
PRESENCE_IN_ZONE = "a {label} was in the {zone} zone"
PRESENCE_IN_VIEW = "a {label} was seen on camera {camera}"

ANSWERS: dict[str, str] = {
    "fall": "{a_label} fell",
    "zone_intrusion": "{a_label} entered zone {zone}",
    "line_crossing": "{a_label} crossed line {rule}",
    "dwell": "{a_label} lingered in zone {zone}",
    "count": "Too many {label}s were in zone {zone}",
    "presence_zone": "{a_label} was in zone {zone}",
    "presence": "{a_label} was in view",
}
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
    """The type's sentence, plus its other wordings ("<type>/…" keys)."""
    templates = [t for key, t in MATCH_SENTENCES.items() if key.split("/")[0] == event_type] or [GENERIC_SENTENCE]
    return [template.format(**_fields(event_type, label, zone, rule)) for template in templates]


def presence_sentence(label: str, zone: str | None, camera: str) -> str:
    template = PRESENCE_IN_ZONE if zone else PRESENCE_IN_VIEW
    return template.format(**_fields("presence", label, zone, None, _words(camera)))


def answer_phrase(event_type: str, label: str, zone: str | None, rule: str | None) -> str:
    key = ("presence_zone" if zone else "presence") if event_type == "presence" else event_type
    template = ANSWERS.get(key, GENERIC_ANSWER)
    return template.format(**_fields(event_type, label, zone, rule))
