"""Keyword search, the one part of the index each database does its own way: FTS5 tables kept by triggers on SQLite
(Porter stemming), a tsvector column kept by a trigger with a GIN index on PostgreSQL (English stemming). Triggers,
so that every writer (camera workers, VLM workers, older versions' rows on upgrade) feeds it without knowing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, text

# what keyword search sees of an event: its type and rule as words, the object, its zone, and what the VLM said
_SQLITE_EVENT = (
    "replace(new.type, '_', ' ') || ' ' || replace(replace(new.rule, '_', ' '), '-', ' ') || ' ' "
    "|| new.label || ' ' || coalesce(json_extract(new.source_json, '$.zone'), '') || ' ' "
    "|| coalesce(new.description, '')"
)
_SQLITE_FINDING = "coalesce(new.label, '') || ' ' || coalesce(new.description, '')"

SQLITE_DDL = (
    """
CREATE VIRTUAL TABLE events_text USING fts5(body, tokenize = 'porter unicode61');
CREATE VIRTUAL TABLE findings_text USING fts5(body, tokenize = 'porter unicode61');
CREATE TRIGGER events_text_insert AFTER INSERT ON events BEGIN
    DELETE FROM events_text WHERE rowid = new.rowid;
    INSERT INTO events_text (rowid, body) VALUES (new.rowid, """
    + _SQLITE_EVENT
    + """);
END;
CREATE TRIGGER events_text_update AFTER UPDATE ON events BEGIN
    DELETE FROM events_text WHERE rowid = old.rowid;
    INSERT INTO events_text (rowid, body) VALUES (new.rowid, """
    + _SQLITE_EVENT
    + """);
END;
CREATE TRIGGER events_text_delete AFTER DELETE ON events BEGIN
    DELETE FROM events_text WHERE rowid = old.rowid;
END;
CREATE TRIGGER findings_text_insert AFTER INSERT ON vlm_findings BEGIN
    DELETE FROM findings_text WHERE rowid = new.rowid;
    INSERT INTO findings_text (rowid, body) VALUES (new.rowid, """
    + _SQLITE_FINDING
    + """);
END;
CREATE TRIGGER findings_text_delete AFTER DELETE ON vlm_findings BEGIN
    DELETE FROM findings_text WHERE rowid = old.rowid;
END;
INSERT INTO events_text (rowid, body) SELECT rowid, """
    + _SQLITE_EVENT.replace("new.", "")
    + """ FROM events;
INSERT INTO findings_text (rowid, body) SELECT rowid, """
    + _SQLITE_FINDING.replace("new.", "")
    + """ FROM vlm_findings;
"""
)

# the same text on PostgreSQL; each statement apart (a function body holds semicolons of its own)
POSTGRES_DDL = (
    "ALTER TABLE events ADD COLUMN search tsvector",
    "ALTER TABLE vlm_findings ADD COLUMN search tsvector",
    """CREATE FUNCTION streamer_events_search() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           NEW.search := to_tsvector('english', replace(NEW.type, '_', ' ') || ' '
               || replace(replace(NEW.rule, '_', ' '), '-', ' ') || ' ' || NEW.label || ' '
               || coalesce(NEW.source_json::jsonb ->> 'zone', '') || ' ' || coalesce(NEW.description, ''));
           RETURN NEW;
       END $$""",
    """CREATE FUNCTION streamer_findings_search() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           NEW.search := to_tsvector('english', coalesce(NEW.label, '') || ' ' || coalesce(NEW.description, ''));
           RETURN NEW;
       END $$""",
    "CREATE TRIGGER events_search BEFORE INSERT OR UPDATE ON events FOR EACH ROW "
    "EXECUTE FUNCTION streamer_events_search()",
    "CREATE TRIGGER findings_search BEFORE INSERT OR UPDATE ON vlm_findings FOR EACH ROW "
    "EXECUTE FUNCTION streamer_findings_search()",
    "CREATE INDEX events_search_gin ON events USING gin (search)",
    "CREATE INDEX findings_search_gin ON vlm_findings USING gin (search)",
)


def create(conn: Connection) -> None:
    """The search tables or columns, for the database `conn` is on (the first migration calls it)."""
    if conn.dialect.name == "sqlite":
        from streamer.core.migrations import statements

        for statement in statements(SQLITE_DDL):
            conn.exec_driver_sql(statement)
    else:
        for statement in POSTGRES_DDL:
            conn.exec_driver_sql(statement)


def terms(words: Sequence[str]) -> tuple[str, ...]:
    """Plain lower-case words of two letters or more: nothing a search syntax could read as an operator."""
    return tuple(sorted({w for w in (re.sub(r"[^a-z0-9]", "", word.lower()) for word in words) if len(w) > 1}))


def keyword_scores(conn: Connection, words: Sequence[str]) -> dict[str, float]:
    """Relevance (larger is better) of each event's text and its findings' text, matching any of the words;
    events not matched are absent. bm25 on SQLite, ts_rank on PostgreSQL: each ranks only against itself."""
    if not words:
        return {}
    if conn.dialect.name == "sqlite":
        sql = """SELECT owner.event_id, -bm25({table}) FROM {table}
                 JOIN (SELECT event_id, rowid FROM {owner}) AS owner ON owner.rowid = {table}.rowid
                 WHERE {table} MATCH :query"""
        query = " OR ".join(f'"{word}"' for word in words)
        statements = [
            sql.format(table="events_text", owner="events"),
            sql.format(table="findings_text", owner="vlm_findings WHERE event_id IS NOT NULL"),
        ]
    else:
        sql = """SELECT event_id, ts_rank(search, to_tsquery('english', :query)) FROM {owner}
                 WHERE event_id IS NOT NULL AND search @@ to_tsquery('english', :query)"""
        query = " | ".join(words)
        statements = [sql.format(owner="events"), sql.format(owner="vlm_findings")]
    scores: dict[str, float] = {}
    for statement in statements:
        for event_id, score in conn.execute(text(statement), {"query": query}):
            scores[event_id] = max(scores.get(event_id, 0.0), float(score))
    return scores
