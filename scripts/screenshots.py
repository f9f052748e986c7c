"""Screenshots of the portal's main pages, in Swedish, for docs/images/ and the README.

    make screenshots                        # or: .venv/bin/python scripts/screenshots.py [--out DIR]

What a new user does, in a temporary folder: `tempen up` (its own embedded broker, database and mail
folder, on free ports, so a running `make run` is left alone), `tempen demo`, and the personal link
from the demo's e-mail opened in Chromium (Debian's /usr/bin/chromium, driven by Playwright) with
JavaScript off, as the pages are built to work. Then each page in PAGES is saved as a PNG.

PAGES is the one list of what is shot: a page another change adds is one line there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tempen.commands.demo import PORTAL_LINK
from tempen.embedded import free_port
from tempen.supervisor import SERVICES

ROOT = Path(__file__).resolve().parents[1]
TENANT = "hjo"  # the shipped tenant `tempen demo` uses


@dataclass(frozen=True)
class Page:
    file: str  # under --out
    path: str  # {tenant}; {alert} is the alert page the e-mail's link leads to
    as_hr: bool = False  # seen by HR, signed in with the demo's sign-in link, not the manager's e-mail link


PAGES = [
    Page("portal-alert.png", "{alert}"),
    Page("portal-units.png", "/t/{tenant}/units"),
    Page("portal-overview.png", "/t/{tenant}/overview", as_hr=True),
    Page("portal-report-hme.png", "/t/{tenant}/report/hme", as_hr=True),
]
SIGN_IN_LINK = re.compile(r"https?://[^\s/]+/s/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")  # the demo's link for HR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--chromium", default=os.environ.get("TEMPEN_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the system and the alert")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"No Chromium at {args.chromium}: apt-get install chromium (scripts/debian-packages).", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tempen-screenshots-") as folder:
        work = Path(folder)
        ports = {name: free_port() for name in SERVICES}
        env = {
            key: value for key, value in os.environ.items() if key not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
        }
        env.update({f"TEMPEN_{name.upper()}_PORT": str(port) for name, port in ports.items()})
        env.update(
            TEMPEN_STATE_DIR=str(work / "state"),
            TEMPEN_EMBEDDED_KAFKA_PORT=str(free_port()),
            TEMPEN_EMBEDDED_POSTGRES_PORT=str(free_port()),
            TEMPEN_TOKEN="",  # the demo reads the token this `tempen up` writes, not the caller's
        )
        tempen = str(Path(sys.executable).parent / "tempen")
        log = (work / "up.log").open("wb")
        up = subprocess.Popen(
            [tempen, "up", "--config", str(ROOT / "config"), "--state", str(work / "state")],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
            _wait_ready(up, urls, args.timeout, work / "up.log")
            demo = subprocess.run(
                [tempen, "demo", "--ingest-url", urls["ingest"], "--alerts-url", urls["alerts"],
                 "--portal-url", urls["portal"],
                 "--state", str(work / "state"), "--config", str(ROOT / "config"), "--timeout", str(args.timeout)],
                cwd=work, env=env, capture_output=True, text=True, timeout=args.timeout + 60, check=False,
            )  # fmt: skip
            link = PORTAL_LINK.search(demo.stdout)
            hr_link = SIGN_IN_LINK.search(demo.stdout)
            if demo.returncode != 0 or link is None or hr_link is None:
                print(f"tempen demo gave no portal links (exit {demo.returncode}):\n{demo.stdout}{demo.stderr}")
                return 1
            args.out.mkdir(parents=True, exist_ok=True)
            shots = _shoot(link.group(0), hr_link.group(0), urls["portal"], args.out, args.chromium)
            for saved in asyncio.run(shots):
                print(f"wrote {saved.relative_to(ROOT) if saved.is_relative_to(ROOT) else saved}")
        finally:
            _stop(up)
            log.close()
    return 0


def _wait_ready(up: subprocess.Popen[bytes], urls: dict[str, str], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            if up.poll() is not None:
                raise SystemExit(f"tempen up exited ({up.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"not ready after {timeout_s:.0f}s: {', '.join(sorted(pending))}; see {log}")
            for name in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{urls[name]}/readyz").status_code == 200:
                        pending.discard(name)
            time.sleep(0.5)


async def _shoot(link: str, hr_link: str, portal: str, out: Path, chromium: str) -> list[Path]:
    from playwright.async_api import async_playwright

    saved: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            pages = []
            for sign_in in (link, hr_link):  # the manager's browser, and HR's
                context = await browser.new_context(
                    java_script_enabled=False, locale="sv-SE", viewport={"width": 1100, "height": 900}
                )
                pages.append(await context.new_page())
                await pages[-1].goto(sign_in)
            manager, hr = pages
            alert = manager.url.removeprefix(portal)  # the e-mail's link lands on the alert page
            if "/alerts/" not in alert:
                raise SystemExit(f"the demo's link did not lead to an alert page but to {manager.url}")
            for shot in PAGES:
                page = hr if shot.as_hr else manager
                response = await page.goto(portal + shot.path.format(tenant=TENANT, alert=alert))
                if response is None or response.status != 200:
                    raise SystemExit(f"{shot.path} answered {response.status if response else 'nothing'}")
                target = out / shot.file
                await page.screenshot(path=str(target), full_page=True)
                saved.append(target)
        finally:
            await browser.close()
    return saved


def _stop(up: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to `tempen up`'s process group, as a terminal sends it; killed if it has not stopped in a minute."""
    if up.poll() is not None:
        return
    os.killpg(up.pid, signal.SIGINT)
    try:
        up.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        up.wait()


if __name__ == "__main__":
    sys.exit(main())
