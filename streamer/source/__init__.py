"""Video sources: PyAV decode with reconnects, PTS-based sampling and wall-clock time."""
