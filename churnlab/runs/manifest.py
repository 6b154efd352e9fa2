"""What a run records about itself: manifest.json with its parameters, input fingerprints,
package versions, the git commit and its times (docs/outputs.md).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def _source_checkout() -> Path | None:
    """The git clone churnlab runs from (an editable install), or None for an installed package.

    A wheel lives in site-packages, whose parent folders may belong to some other git
    repository (a virtual environment inside a project); only a folder holding churnlab's own
    pyproject.toml and a ``.git`` next to the package counts as churnlab's source.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / ".git").exists():
        return root
    return None


#: the clone churnlab is installed from (editable), whose commit a manifest records; None when
#: churnlab is installed from a wheel or a source folder without git (the commit is then null)
REPO_DIR: Path | None = _source_checkout()
#: distributions whose versions go into every manifest
VERSIONED = (
    "churnlab",
    "pandas",
    "numpy",
    "pyarrow",
    "xgboost",
    "shap",
    "duckdb",
    "scikit-learn",
    "matplotlib",
    "papermill",
    "nbconvert",
    "ipykernel",
)


def input_files(path: Path) -> list[Path]:
    """Every regular file under ``path`` (or ``[path]`` for a file), sorted, hidden ones skipped."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(files: Iterable[tuple[str, Path]]) -> dict:
    """sha256 over the inputs: each file's name (as given) and bytes, sorted by name.

    Returns ``{"sha256": <hex>, "files": [{"name", "bytes", "sha256"}, ...]}``; the combined
    hash changes when any byte or any name changes, and not when files are listed in another
    order.
    """
    total = hashlib.sha256()
    rows = []
    for name, path in sorted(files, key=lambda item: item[0]):
        file_hash = _sha256(path)
        size = path.stat().st_size
        total.update(f"{name}\0{size}\0{file_hash}\n".encode())
        rows.append({"name": name, "bytes": size, "sha256": file_hash})
    return {"sha256": total.hexdigest(), "files": rows}


def data_fingerprint(path: Path) -> dict:
    """:func:`fingerprint` of a dataset folder (names relative to it) or of a single file."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    return fingerprint((p.relative_to(root).as_posix(), p) for p in input_files(path))


def package_versions() -> dict[str, str | None]:
    """Python's version and the installed versions of the packages a result depends on."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict:
    """The repository's commit and whether its tracked files had changes (nulls outside git)."""
    if REPO_DIR is None:
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_DIR), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def write_manifest(
    folder: Path,
    *,
    command: str,
    notebook: str,
    parameters: dict,
    inputs: Iterable[tuple[str, Path]],
    started_at: str,
    finished_at: str,
    duration: float,
    timings: dict[str, float],
) -> None:
    """Write ``folder``/manifest.json: what ran, on which inputs, with what, when and how long.

    ``outputs`` fingerprints every file already in ``folder`` (hidden files aside), so the
    manifest is written last, after the notebook and the HTML.
    """
    manifest = {
        "command": command,
        "notebook": notebook,
        "parameters": parameters,
        "inputs": fingerprint(inputs),
        "versions": package_versions(),
        "git": git_commit(),
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_seconds": round(duration, 3),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "outputs": fingerprint((p.relative_to(folder).as_posix(), p) for p in input_files(folder))[
            "files"
        ],
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
