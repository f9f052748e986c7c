"""Run a service's ASGI app with uvicorn; SIGTERM stops consuming, finishes in-flight work and closes."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(app: Any, *, host: str, port: int) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=20
    )
    uvicorn.Server(config).run()
