"""A real OpenID Connect provider for the portal's sign-in tests: panva's oidc-provider (OpenID Certified),
pinned in tests/oidc/package-lock.json, run with node as its own process; and a person's browser driving
its development login and consent pages with httpx."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tempen.embedded import free_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
INSTALL_HINT = "run `make test` (it installs Debian's nodejs and npm, then `npm ci --prefix tests/oidc`)"


def node_or_fail() -> str:
    """The node binary, with the pinned provider installed; the test fails (never skips) without them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed, so the real OIDC provider cannot run: {INSTALL_HINT}")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        pytest.fail(f"the oidc-provider package is not installed in {PROVIDER_DIR}: {INSTALL_HINT}")
    return node


@contextmanager
def running_provider(
    tmp_path: Path, *, clients: list[dict[str, Any]], accounts: Mapping[str, Mapping[str, Any]]
) -> Iterator[str]:
    """Start the provider with these clients and people; yields its issuer URL, stops it after."""
    node = node_or_fail()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = tmp_path / "oidc-provider.json"
    settings.write_text(json.dumps({"port": port, "issuer": issuer, "clients": clients, "accounts": accounts}))
    log = (tmp_path / "oidc-provider.log").open("wb")
    process = subprocess.Popen([node, str(PROVIDER_DIR / "provider.mjs"), str(settings)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"the OIDC provider did not start:\n{(tmp_path / 'oidc-provider.log').read_text()[-3000:]}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input([^>]*)>")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The page's first form: where it posts and its fields with their values."""
    found = _FORM.search(html)
    assert found, html[:2000]
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(found.group(2)):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs:
            fields[attrs["name"]] = unescape(attrs.get("value", ""))
    return unescape(found.group(1)), fields


async def sign_in_at_provider(
    browser: httpx.AsyncClient, start: str, *, login: str, callback_prefix: str, cancel: bool = False
) -> str:
    """Follow the sign-in from `start` (the portal's address that sends the browser to the provider)
    through the provider's login and consent pages, as `login`; returns the callback URL the provider
    sends the browser back to (not yet opened). With `cancel`, the person aborts on the login page."""
    url = start
    for _ in range(20):
        response = await browser.get(url)
        if response.is_redirect:
            url = urljoin(str(response.url), response.headers["location"])
            if url.startswith(callback_prefix):
                return url
            continue
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        action, fields = _form(response.text)
        if cancel:
            abort = re.search(r'href="([^"]*/abort)"', response.text)
            assert abort, response.text[:2000]
            url = urljoin(str(response.url), abort.group(1))
            continue
        if "login" in fields:
            fields.update(login=login, password="any")  # the development login takes any password
        posted = await browser.post(urljoin(str(response.url), action), data=fields)
        assert posted.is_redirect, (posted.status_code, posted.text[:2000])
        url = urljoin(str(posted.url), posted.headers["location"])
        if url.startswith(callback_prefix):
            return url
    raise AssertionError(f"the provider never sent the browser back; last at {url}")
