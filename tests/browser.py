"""A headless Chromium driven over the Chrome DevTools protocol, for the report's browser test.

No driver and no Python dependency: Chromium is started with ``--remote-debugging-pipe`` and
talks CDP (JSON messages ending in a NUL byte) over two pipes, its file descriptors 3 (what
it reads) and 4 (what it writes). The page opens with the network emulated offline, and every
request, failed load and console or security message is recorded, so a test can say what the
page tried to load and what it showed.

Chromium runs as root only with ``--no-sandbox``; the other flags keep a headless browser on a
closed network quiet (no update checks, no sync, no QUIC probes) and give it a fresh profile.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
)
#: where Debian's ``chromium`` package puts the browser
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome binary on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


_ON_3_AND_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The two pipe ends moved to descriptors >= 10, clear of the 3 and 4 they are copied to
    (``dup2(4, 3); dup2(3, 4)`` would otherwise cross the pipes)."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved


@dataclass
class PageVisit:
    """What one page load did: its requests, failures, log entries and evaluated values."""

    requests: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)


class Chromium:
    """One headless browser with one page, spoken to over the DevTools pipe."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        to_browser_r, self._out = _high(os.pipe())
        self._in, from_browser_w = _high(os.pipe())
        self.profile = tempfile.mkdtemp(prefix="churnlab-chromium-")
        args = [*FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"]
        # a tiny exec wrapper puts the two pipe ends on fds 3 and 4, where Chromium expects
        # them (a shell cannot: dash redirects only single-digit descriptors)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _ON_3_AND_4, str(to_browser_r), str(from_browser_w), binary]
            + [*args, "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            page=True,
        )

    # --- the protocol -------------------------------------------------------------------
    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, page: bool = False, timeout=60):
        """Send one command (to the page's session when ``page``) and return its result."""
        ident = next(self._ids)
        message = {"id": ident, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self._session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def _wait(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self._events):
            self._events.append(self._message(deadline))

    # --- what a test uses ---------------------------------------------------------------
    def visit_offline(self, path: Path) -> PageVisit:
        """Open the file at ``path`` with the network offline; record what the page did."""
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", page=True)
        offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        self.send("Network.emulateNetworkConditions", offline, page=True)
        self._events.clear()
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, page=True)
        self._wait("Page.loadEventFired")
        visit = PageVisit()
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                visit.failures.append(params)
            elif method == "Log.entryAdded":
                visit.logs.append(params["entry"])
            elif method == "Runtime.consoleAPICalled":
                visit.logs.append({"level": params.get("type"), "text": str(params.get("args"))})
            elif method == "Runtime.exceptionThrown":
                visit.exceptions.append(params)
        return visit

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (DevTools is not bound by its CSP)."""
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, page=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        """Save the page as a PNG: the first screen, or the whole page with ``full_page``."""
        params: dict = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.send("Page.getLayoutMetrics", page=True)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
            params["clip"]["scale"] = 1
        data = self.send("Page.captureScreenshot", params, page=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
            self.send("Browser.close", timeout=5)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
