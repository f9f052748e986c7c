"""Run a service's ASGI app with uvicorn; SIGTERM stops consuming, finishes in-flight work and closes."""

from __future__ import annotations

from typing import Any

import uvicorn


def serve(app: Any, *, host: str, port: int) -> None:
    # uvloop: the event loop under every consumer, relay and request, a few times cheaper per
    # callback than asyncio's own. Named, not "auto", so a missing wheel fails at start instead of
    # silently running slower. h11 named too: the request parser whose behaviour on hostile input
    # (bodies over the limit, control characters, resets) the fault suite checks.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="h11",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    uvicorn.Server(config).run()
