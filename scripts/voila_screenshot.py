"""Serve notebooks/04_explorer.ipynb as a page with voila and take a headless screenshot.

Run from the repository root::

    pip install ".[jupyter]" voila playwright   # voila serves the page; playwright drives
    apt-get install -y chromium                 # the browser (Debian's; no browser download)
    python scripts/voila_screenshot.py [--out explorer.png]

It starts voila on a free port on 127.0.0.1, waits for it, opens the page in the system's
headless Chromium (a fresh profile, no network besides the page), waits until the
explorer widget has rendered (its comparison table, which only the live widget draws),
writes a full-page PNG and checks that the rendered page shows the verification text, the
gabacalc version, the rules checksum and the explorer's controls. Voila and the browser
are stopped and the browser profile removed however the script ends. Not part of the test
suite: it needs a browser pip cannot install, and a page takes tens of seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gabacalc  # noqa: E402

NOTEBOOK = REPO / "notebooks" / "04_explorer.ipynb"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"voila did not answer at {url} within {seconds:.0f} s")
        time.sleep(0.5)


def render(url: str, profile: Path, out: Path, size: tuple[int, int], wait_ms: int) -> str:
    """Open the page, wait for the explorer to render, screenshot it; return the page text."""
    from playwright.sync_api import sync_playwright

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=binary,
            headless=True,
            args=list(CHROMIUM_FLAGS[1:]),
            viewport={"width": size[0], "height": size[1]},
        )
        try:
            page = browser.new_page()
            page.goto(url, timeout=wait_ms)
            page.wait_for_selector(".gabacalc-comparison", timeout=wait_ms)
            page.wait_for_load_state("networkidle", timeout=wait_ms)
            page.screenshot(path=str(out), full_page=True)
            return str(page.content())
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="explorer.png", help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1400)
    # Voila scrolls inside the page, so a full-page shot is only as tall as the window.
    parser.add_argument("--height", type=int, default=4400)
    parser.add_argument("--wait-ms", type=int, default=120000, help="longest wait for the page")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    voila = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
        ],
        cwd=tempfile.gettempdir(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    profile = Path(tempfile.mkdtemp(prefix="gabacalc-chromium-"))
    try:
        wait_for(url, 120)
        started = time.monotonic()
        dom = render(
            url, profile, Path(args.out).resolve(), (args.width, args.height), args.wait_ms
        )
        print(f"wrote {args.out} ({time.monotonic() - started:.1f} s in the browser)")
        rules = gabacalc.default_rules()
        wanted = {
            "verification text": gabacalc.VERIFICATION_TEXT,
            "gabacalc version": f"gabacalc {gabacalc.__version__}",
            "rules checksum": rules.rules_sha256[:12],
            # Only the widget shows these: the comparison the notebook ends on.
            "explorer's comparison of A and B": "Comparison: A (pinned) and B (the controls)",
            "explorer's highlighted differences": 'class="gabacalc-differs"',
            "explorer's controls": "Given CrCl (mL/min)",
        }
        missing = [name for name, text in wanted.items() if text not in dom]
        for name in wanted:
            print(f"page shows the {name}: {'no' if name in missing else 'yes'}")
        if missing:
            raise SystemExit(f"the rendered page lacks: {', '.join(missing)}")
    finally:
        with_group = os.getpgid(voila.pid)
        os.killpg(with_group, signal.SIGTERM)
        try:
            voila.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            voila.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
