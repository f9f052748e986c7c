"""Tenants, leadership models, instruments and org trees: configuration as code, pure (no I/O but reading files)."""
