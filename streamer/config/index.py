"""The `index:` section: where the index of recordings, events, VLM answers and reviews lives. Omitted, an SQLite
file in the storage folder (one host); a PostgreSQL URL makes it one index for every host of a site."""

from __future__ import annotations

from pydantic import Field, field_validator

from streamer.config.base import StrictModel, check_url_form

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class IndexConfig(StrictModel):
    url: str | None = Field(
        None,
        description="postgresql://user:password@host:port/database (credentials from ${ENV}): the index "
        "every host of a site writes and every API replica reads. Omitted: <storage_dir>/index.sqlite3.",
    )

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_SCHEMES[:2])} (omit it for the SQLite file)")
        return check_url_form(value, needs_host=True)
