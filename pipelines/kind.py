"""A type of rule as one unit: everything the service knows about it, declared once, in the rule's own module
(`KIND = RuleKind(...)`). The registry builds rules from it, the VLM prompts ask its question, and the query
describes and answers with its words; none of them lists the types themselves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleKind:
    rule: type  # the class: its `event_type` (the payload's "type") and its `from_config(config, zones)`
    config: type  # its model in streamer.config.rules (there because the config layer validates YAML alone)
    question: str  # what the VLM is asked about such an event; {label} is what the detector flagged
    match_sentences: tuple[str, ...]  # the event in words, compared with a user's question; {label} {zone} {rule}
    answer: str  # how a one-line answer starts; {a_label} {label} {zone} {rule}

    @property
    def event_type(self) -> str:
        return self.rule.event_type
