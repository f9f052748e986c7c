"""Shared contracts and plumbing of tempen's services (import name chosen not to clash with anything on PyPI)."""
