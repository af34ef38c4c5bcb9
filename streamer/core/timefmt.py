"""How every alert, answer and log shows a wall-clock time."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo


def iso_time(ts: float, tz: tzinfo | None = None) -> str:
    """Epoch seconds → ISO 8601 with milliseconds and offset, as every alert and answer shows time."""
    return datetime.fromtimestamp(ts, tz or timezone.utc).isoformat(timespec="milliseconds")
