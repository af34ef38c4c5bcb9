"""The small value types every layer shares, defined once."""

from __future__ import annotations

import enum
from typing import Literal

BBox = tuple[float, float, float, float]
"""x1, y1, x2, y2 in the source frame's pixels."""

RiskLevel = Literal["low", "medium", "high", "critical"]


class EventState(str, enum.Enum):
    """An event's messages: one `new`, any number of `update`, one `end`."""

    NEW = "new"
    UPDATE = "update"
    END = "end"
