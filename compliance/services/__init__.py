"""Compliance services: the only writers of compliance records (CONVENTIONS.md)."""
