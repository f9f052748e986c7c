"""Run a service's ASGI app with uvicorn; SIGTERM stops consuming, finishes in-flight work and closes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn

from tempen_shared.tenancy.loader import ConfigError

App = TypeVar("App")
EXIT_CONFIG = 2


def build_or_exit(build: Callable[[], App], *, service: str) -> App:
    """Build a service's app; a configuration it cannot run with ends the process with exit code 2 and one
    log line per problem (file:line: key: reason), last in the log where `tempen up` shows it, instead of
    a traceback whose useful line is hard to find."""
    try:
        return build()
    except ConfigError as exc:
        log = logging.getLogger(f"tempen.{service}")
        for problem in exc.problems:
            log.error("configuration problem: %s", problem)  # noqa: TRY400 - the problem is the message, not a trace
        count = len(exc.problems)
        log.error(  # noqa: TRY400
            "%s cannot start: %d configuration problem%s (listed above); `tempen config check` lists them too",
            service,
            count,
            "s" if count != 1 else "",
        )
        raise SystemExit(EXIT_CONFIG) from None


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
