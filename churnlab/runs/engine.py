"""churnlab's papermill engine: a quiet kernel, and the notebook's stage lines on stderr.

Registered as the papermill engine ``churnlab`` (``papermill --engine churnlab ...``, an entry
point in pyproject.toml) and used by every ``churnlab`` run. It differs from papermill's own
engine in two ways:

- the kernel starts with ``--IPKernelApp.log_level=ERROR``: ipykernel otherwise warns on every
  start that its local TCP link is unencrypted, noise in a scheduler's log that hides real
  messages (errors still show);
- the notebook's stage lines (:mod:`churnlab.core.progress`) are copied to the process's
  stderr as they arrive, and no other kernel output is (library warnings stay in the executed
  notebook).
"""

from __future__ import annotations

import sys
from typing import TextIO

from papermill.engines import NBClientEngine

from churnlab.core.progress import PREFIX

#: the kernel's command-line options for every churnlab run
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


class StageLines:
    """A file-like sink for the kernel's stderr that passes on only the stage lines."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        out = self._stream or sys.stderr  # looked up late: tests and shells swap sys.stderr
        for each in lines:
            if each.startswith(PREFIX):
                out.write(each + "\n")
        return len(text)

    def flush(self) -> None:
        (self._stream or sys.stderr).flush()


class ChurnlabEngine(NBClientEngine):
    """papermill's nbclient engine with a quiet kernel and stage lines on stderr."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        if not kwargs.get("extra_arguments"):
            kwargs["extra_arguments"] = list(QUIET_KERNEL)
        if kwargs.get("stderr_file") is None:
            kwargs["stderr_file"] = StageLines()
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
