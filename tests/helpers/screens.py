"""Screenshots of console pages at desktop and phone width, as test artefacts (docs/console.md shows some)."""

from __future__ import annotations

from pathlib import Path

SHOTS = Path(__file__).resolve().parents[2] / "data" / "console-screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)  # laid out again at the new width
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
