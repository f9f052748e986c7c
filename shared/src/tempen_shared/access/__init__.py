"""API tokens: what they are (`tokens`), where they are kept (`store`, schema `access`).

The `access` schema belongs to no service. Its migrations ship here and every service applies them at
start (idempotent, under the migration advisory lock), but only `tempen tokens` writes to it; the
services only read it. See docs/access.md.
"""
