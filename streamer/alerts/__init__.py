"""Alerts: the payload contract (schema_version 1) that subscribers rely on."""
