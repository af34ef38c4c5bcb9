"""Asking the recordings in plain language: understand, find, rank, ground with the VLM, answer."""
