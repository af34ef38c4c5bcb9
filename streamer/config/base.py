"""Shared pydantic base and field types for configuration models."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not silently fall back to a default); so are a boolean given for a
    number (`pre_roll_s: true` is not 1) and anything but true/false for a boolean (`enabled: 0`, `loop: "no"`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # .nan, .inf are never a setting

    @model_validator(mode="before")
    @classmethod
    def _strict_scalars(cls, data: Any) -> Any:
        # a model-level check (a field-level "*" validator would clash with the rules' discriminator); the field
        # goes in the error's context, where the loader finds it to name the field and its line
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            kinds = _scalar_kinds(field.annotation) if field is not None else set()
            if isinstance(value, bool) and bool not in kinds and kinds & {int, float}:
                raise PydanticCustomError(
                    "strict_scalar",
                    "expected a number, not the boolean {value}",
                    {"field": name, "value": str(value).lower()},
                )
            if kinds == {bool} and not isinstance(value, bool):
                raise PydanticCustomError(
                    "strict_scalar", "expected true or false, not {value}", {"field": name, "value": repr(value)}
                )
        return data


def _scalar_kinds(annotation: Any) -> set[type]:
    """The plain scalar types a field accepts at its top level (through Optional, unions and Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _scalar_kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                kinds |= _scalar_kinds(arg) or {object}
        return kinds
    return {annotation} if annotation in (bool, int, float) else set()


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
MAX_PIXEL = 16_384  # past any camera's frame (8K is 7680 wide): a coordinate beyond it is a mistake, not a zone
Coordinate = Annotated[float, Field(ge=0, le=MAX_PIXEL, strict=True)]  # strict: `true` is no coordinate
Point = tuple[Coordinate, Coordinate]


def check_url_form(url: str, needs_host: bool = True) -> str:
    """A URL a client could connect to: a host (where needed) and a port that is a number in range."""
    from urllib.parse import urlsplit

    if any(ch.isspace() for ch in url) or "\x00" in url:
        raise ValueError("a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for "notaport" and for 70000
    except ValueError as error:
        raise ValueError(f"not a valid URL: {error}") from None
    if needs_host and not parts.hostname:
        raise ValueError(f"no host in the URL (expected {parts.scheme}://host[:port]/...)")
    if port == 0:
        raise ValueError("port 0 is not a port anyone listens on")
    return url
