"""The engine's errors, importable without the runtimes (the supervisor and the CLI name them)."""


class ModelLoadError(Exception):
    """One line naming the model and the backend that could not take it."""
