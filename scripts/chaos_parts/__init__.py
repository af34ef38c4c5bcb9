"""The fault scenarios of `scripts/chaos.py`, one module each; every one returns a dict of figures."""
