"""Copy a whole index into another database: how an existing site's SQLite file moves to PostgreSQL. The target is
brought to the schema's head first, must hold nothing yet, and is written in one transaction: a copy cut short
leaves it empty, never half full. Ids of segments and gaps are not carried (the target numbers its own rows)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from streamer.index import db
from streamer.index.schema import metadata

BATCH_ROWS = 5_000


class TargetNotEmpty(RuntimeError):
    pass


@dataclass(frozen=True)
class CopyReport:
    rows: dict[str, int]  # rows copied, by table

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_index(source: Connection, target: Connection) -> CopyReport:
    filled = {
        table.name: n
        for table in metadata.sorted_tables
        if (n := target.execute(select(func.count()).select_from(table)).scalar_one())
    }
    if filled:
        raise TargetNotEmpty(
            f"the target index already has rows ({', '.join(f'{t}: {n}' for t, n in filled.items())}); "
            "copy into an empty database"
        )
    copied: dict[str, int] = {}
    with db.transaction(target):
        for table in metadata.sorted_tables:
            columns = [column for column in table.c if not (column.primary_key and column.autoincrement is True)]
            rows = source.execute(select(*columns))
            copied[table.name] = 0
            for batch in rows.partitions(BATCH_ROWS):
                target.execute(table.insert(), [dict(row._mapping) for row in batch])
                copied[table.name] += len(batch)
    return CopyReport(copied)
