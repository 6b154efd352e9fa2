"""benchmarks/RESULTS.md, the one file of measured figures: each script rewrites its own section.

A benchmark wraps its main function in :func:`recorded`; everything it prints still goes to
the terminal and is also written, with the command, date and machine, between the script's
markers in RESULTS.md. Sections of other scripts are left as they are, so the file always
holds the latest run of every benchmark.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Measured figures\n\nEach section is written by the benchmark script it names (see benchmarks/results.py);\nrerun the script to refresh it. The machine is shared and noisy: figures vary by +-30 %.\n"


class _Tee(io.TextIOBase):
    def __init__(self, stream) -> None:
        self.stream, self.buffer_ = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.buffer_.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def write_section(name: str, body: str, command: str) -> None:
    """Replace (or add) the section ``name`` of RESULTS.md with ``body``."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = (
        f"<!-- {name} -->\n## {name}\n\n`{command}` ({stamp}; {machine})\n\n```\n"
        f"{body.rstrip()}\n```\n<!-- /{name} -->\n"
    )
    pattern = re.compile(rf"<!-- {re.escape(name)} -->\n.*?<!-- /{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + "\n" + section
    RESULTS.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def recorded(name: str) -> Iterator[None]:
    """Print as usual and, when the block finishes without error, record it in RESULTS.md."""
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    write_section(name, tee.buffer_.getvalue(), command)
