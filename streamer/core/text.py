"""Text written by a model (a VLM's label and description: words a person can hold up to a camera) as it may
leave the service: plain text, with no control characters (a terminal escape in `streamer alerts tail`, a line
break forging a log line) and no bidirectional overrides (text that reads differently from what it says)."""

from __future__ import annotations

import re

# C0 and C1 controls but tab and newline, DEL, and the bidi embedding, override and isolate characters
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: str) -> str:
    """`text` with every unsafe character replaced by a space."""
    return _UNSAFE.sub(" ", text)
