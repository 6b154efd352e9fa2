"""Output folders of a run: what churnlab may create or replace, a lock, atomic moves.

A run never writes into its output folder ``OUT`` directly. It works in a hidden sibling,
``.OUT.partial-<pid>`` (marked by a ``.churnlab-partial`` file), and only a run that finished
is moved to ``OUT``. Every folder churnlab leaves behind holds a ``.churnlab-run`` file that
lists the files it wrote; that list is what makes ``--force`` safe:

- ``--force`` replaces ``OUT`` only when it is a folder churnlab wrote and holds nothing but
  the files listed in its ``.churnlab-run`` (or, for runs of older versions, its manifest);
  a file added by hand makes churnlab refuse, naming it;
- whatever the flags, ``OUT`` may not be, contain or lie inside an input of the run (the
  dataset folder, the feature table, the families file), and may not be the working
  directory, the home folder or a folder above either;
- a lock file ``.OUT.lock`` beside ``OUT`` stops a second run from writing the same ``OUT``
  at the same time: it fails at once with a message naming the other process;
- SIGTERM and SIGHUP are turned into :class:`Terminated` (a ``KeyboardInterrupt``) while a
  run executes, so an interrupted run removes its partial folder like Ctrl-C does; a run
  killed outright leaves only the hidden partial folder, which the next run on the same
  ``OUT`` removes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from churnlab.core.errors import ChurnlabError, examples

#: in every finished (or failed) run folder: which files churnlab wrote there
RUN_MARKER = ".churnlab-run"
#: in every partial folder while a run is going
PARTIAL_MARKER = ".churnlab-partial"


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP while a run was executing."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM/SIGHUP inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _inside(child: Path, parent: Path) -> bool:
    """True when ``child`` is ``parent`` or lies somewhere below it (resolved paths)."""
    return child == parent or parent in child.parents


def _files_below(folder: Path) -> list[str]:
    """Every file (and symlink) below ``folder``, as posix paths relative to it, sorted."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        found += [(base / f).relative_to(folder).as_posix() for f in files]
        found += [
            (base / d).relative_to(folder).as_posix() for d in dirs if (base / d).is_symlink()
        ]
    return sorted(found)


def written_by_churnlab(folder: Path) -> tuple[bool, list[str]]:
    """Whether ``folder`` is a run folder churnlab wrote, and the files in it it did not write.

    A folder is churnlab's when it holds a ``.churnlab-run`` list (or, from versions before
    that list existed, a manifest.json that names its outputs); any file not on that list is
    returned, so that a caller can refuse to delete it.
    """
    listed: set[str] | None = None
    marker = folder / RUN_MARKER
    manifest = folder / "manifest.json"
    try:
        if marker.is_file():
            listed = set(json.loads(marker.read_text(encoding="utf-8"))["files"]) | {RUN_MARKER}
        elif manifest.is_file():
            doc = json.loads(manifest.read_text(encoding="utf-8"))
            if {"command", "inputs", "outputs"} <= set(doc):
                listed = {o["name"] for o in doc["outputs"]} | {"manifest.json"}
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    if listed is None:
        return False, []
    return True, [f for f in _files_below(folder) if f not in listed]


def refuse_unsafe(out: Path, protected: Iterable[Path]) -> None:
    """Raise when ``out`` is an input, holds one, lies in one, or holds the cwd or home."""
    real = out.resolve()
    for item in protected:
        inp = Path(item).resolve()
        if _inside(inp, real):
            raise ChurnlabError(
                f"--out {str(out)!r} is or contains the input {str(item)!r}: churnlab would "
                "replace your data with its results. Choose an --out outside the data."
            )
        if inp.is_dir() and _inside(real, inp):
            raise ChurnlabError(
                f"--out {str(out)!r} lies inside the dataset folder {str(item)!r}; the results "
                "would become part of the data. Choose an --out outside that folder."
            )
    for what, place in (("working directory", Path.cwd()), ("home folder", Path.home())):
        with contextlib.suppress(OSError, RuntimeError):
            if _inside(place.resolve(), real):
                raise ChurnlabError(
                    f"--out {str(out)!r} is or contains your {what} ({place}); churnlab only "
                    "writes results into a folder of their own. Give a new folder path, e.g. "
                    "runs/2026-10."
                )


def check_out(out: Path, force: bool, protected: Iterable[Path] = ()) -> Path:
    """``out`` as an absolute path a run may create (or, with ``force``, replace).

    Raises :class:`ChurnlabError` when ``out`` is a file or a symbolic link, is unsafe (see
    the module docstring), already exists without ``force``, exists with ``force`` but is not
    a folder churnlab wrote or holds files it did not write, or lies in a folder the user
    cannot write to. Makes the parent folder. The ``run_*`` commands call it before anything
    slow, and :func:`churnlab.runs.execute.execute` again under the lock.
    """
    out = Path(out).absolute()
    if out.is_symlink():
        raise ChurnlabError(
            f"--out {str(out)!r} is a symbolic link; give the path of a real folder."
        )
    if out.exists() and not out.is_dir():
        raise ChurnlabError(f"--out {str(out)!r} is a file; give a folder path for the results.")
    refuse_unsafe(out, protected)
    if out.exists() and not force:
        raise ChurnlabError(
            f"The output folder {str(out)!r} already exists; churnlab does not overwrite a "
            "report. Choose another --out, or pass --force to replace it (the old folder is "
            "replaced only when the new run succeeds)."
        )
    if out.exists():
        ours, foreign = written_by_churnlab(out)
        if not ours:
            raise ChurnlabError(
                f"--force replaces only a folder that churnlab wrote, and {str(out)!r} is not "
                "one (it has no .churnlab-run list of its files). Choose another --out, or "
                "empty and remove that folder yourself."
            )
        if foreign:
            raise ChurnlabError(
                f"--force will not replace {str(out)!r}: it holds {len(foreign)} file(s) that "
                f"churnlab did not write: {examples(foreign)}. Move them out first, or choose "
                "another --out."
            )
    anchor = out.parent
    while not anchor.exists():
        anchor = anchor.parent
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise ChurnlabError(
            f"Cannot write the output folder {str(out)!r}: {str(anchor)!r} is not writable. "
            "Choose an --out in a folder you can write to."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


class RunLock:
    """An exclusive lock on ``OUT`` held for a whole run (a ``.OUT.lock`` file beside it).

    A second run on the same ``OUT`` fails at once with a message naming the process that
    holds the lock, instead of one report silently replacing the other.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(f".{out.name}.lock")
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise ChurnlabError(
                    f"Another churnlab run is writing {str(self.out)!r} right now ({holder or 'unknown process'}). "
                    "Wait for it to finish, or choose another --out."
                ) from None
            # the previous holder may have removed the file between our open and our lock
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}, started {_now()}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_partial(out: Path) -> Path:
    """A fresh hidden working folder for a run on ``out``; stale ones of dead runs are removed."""
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if (stale / PARTIAL_MARKER).is_file() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if partial.exists():
        if not (partial / PARTIAL_MARKER).is_file():
            raise ChurnlabError(f"{str(partial)!r} exists and was not made by churnlab; remove it.")
        shutil.rmtree(partial)
    partial.mkdir()
    (partial / PARTIAL_MARKER).write_text(f"process {os.getpid()}, started {_now()}\n")
    return partial


def seal(folder: Path, command: str) -> None:
    """Write the ``.churnlab-run`` list of every file in ``folder``; drop the partial marker."""
    (folder / PARTIAL_MARKER).unlink(missing_ok=True)
    files = [f for f in _files_below(folder) if f != RUN_MARKER]
    doc = {"written_by": "churnlab", "command": command, "files": files}
    (folder / RUN_MARKER).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _free_name(path: Path) -> Path:
    """``path`` if nothing is there or it is a churnlab folder of its own files, else a new name."""
    if not path.exists():
        return path
    ours, foreign = written_by_churnlab(path)
    if ours and not foreign:
        shutil.rmtree(path)
        return path
    return path.with_name(f"{path.name}-{os.getpid()}")


def publish(partial: Path, out: Path, force: bool) -> Path:
    """Move a finished run's folder to ``out``; return where it went.

    An existing ``out`` (``force``) is checked again, moved aside, and removed only once the
    new folder is in place. If ``out`` appeared during the run without ``force``, or stopped
    being replaceable, the results are kept under a free sibling name instead and a
    :class:`ChurnlabError` says where.
    """
    if out.exists():
        ours, foreign = written_by_churnlab(out)
        if not force or not ours or foreign:
            kept = _free_name(out.with_name(out.name + ".new"))
            partial.rename(kept)
            raise ChurnlabError(
                f"{str(out)!r} appeared or changed while the run was going, so churnlab did "
                f"not replace it; this run's results are in {str(kept)!r}."
            )
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        partial.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(out)
    return out


def keep_failure(partial: Path, out: Path, keep: str, message: str, command: str) -> Path:
    """Strip a failed run to the notebook ``keep`` plus error.txt and move it where users look.

    An existing complete ``out`` is left alone (a failure never replaces a success); the
    failure then goes to ``OUT.failed`` (or a free name beside it).
    """
    for child in partial.iterdir():
        if child.name in (keep, PARTIAL_MARKER):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (partial / "error.txt").write_text(message + "\n", encoding="utf-8")
    seal(partial, command)
    target = out if not out.exists() else _free_name(out.with_name(out.name + ".failed"))
    partial.rename(target)
    return target
