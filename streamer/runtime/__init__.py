"""Processes and hand-offs: per-camera workers, their supervisor, queues, stats and outputs."""
