"""Families files: which driver family each column of a user's feature table belongs to.

A families file is YAML mapping a family name to a list of column names or shell-style globs
(``support: [tickets_*, csat_last]``). Every feature belongs to exactly one family; columns no
entry names go to ``other``. Two keys are reserved (docs/data-contract.md): ``context`` lists
the families that describe who the customer is (driver credit keeps them as they are; default
``[profile]``), ``held`` lists columns (or globs) of actionable families that driver credit
keeps as they are too (an amount that mostly stands for the plan chosen). Mistakes a user can
make here (invalid YAML, a list where a mapping belongs, an entry that matches no column, a
column claimed by two families, a context naming no family) raise
:class:`~churnlab.core.errors.ChurnlabError` naming the file and the entry.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml

from churnlab.core.errors import ChurnlabError, examples
from churnlab.core.families import FAMILY_ORDER, OTHER

#: the reserved keys of a families file (no family may be called so)
CONTEXT_KEY = "context"
HELD_KEY = "held"


@dataclass(frozen=True)
class FamiliesSpec:
    """A parsed families file: ``{family: [pattern, ...]}`` and the two reserved keys."""

    families: dict[str, list[str]]
    #: the families named under ``context:`` (None when the key is absent: the registry's)
    context: tuple[str, ...] | None = None
    #: the column names or globs under ``held:``
    held: tuple[str, ...] = ()


def parse_families(path: Path) -> FamiliesSpec:
    """Read a families file, checking its shape.

    Raises ChurnlabError when the file is missing, is not valid YAML, is not a mapping of
    family names to lists of strings (a single string is accepted as a one-item list).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChurnlabError(f"Families file {path} does not exist. Check the path.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ChurnlabError(f"Families file {path} cannot be read as UTF-8 text: {err}.") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ChurnlabError(
            f"Families file {path} is not valid YAML{at}. Write one line per family, e.g. "
            "'support: [tickets_open, csat_last]'."
        ) from None
    if not isinstance(raw, dict) or not raw:
        raise ChurnlabError(
            f"Families file {path} must be a mapping of family names to column lists, e.g. "
            f"'support: [tickets_open, csat_*]'; it holds a {type(raw).__name__}."
        )
    out: dict[str, list[str]] = {}
    reserved: dict[str, list[str]] = {}
    for family, patterns in raw.items():
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(family, str) or not isinstance(patterns, list):
            raise ChurnlabError(
                f"Families file {path}: entry {family!r} must map a family name to a list of "
                f"columns or globs; it maps to {patterns!r}."
            )
        bad = [p for p in patterns if not isinstance(p, str) or not p.strip()]
        if bad:
            raise ChurnlabError(
                f"Families file {path}: family {family!r} lists entries that are not column "
                f"names: {examples(bad)}."
            )
        (reserved if family in (CONTEXT_KEY, HELD_KEY) else out)[family] = [
            p.strip() for p in patterns
        ]
    context = reserved.get(CONTEXT_KEY)
    if context is not None:
        known = {*out, *FAMILY_ORDER, OTHER}
        unknown = [c for c in context if c not in known]
        if unknown:
            raise ChurnlabError(
                f"Families file {path}: 'context' names {examples(unknown)}, which is no "
                f"family of the file (its families are: {examples(list(out), 8)}). List the "
                "families that describe who the customer is, e.g. 'context: [profile]'."
            )
    return FamiliesSpec(
        out, tuple(context) if context is not None else None, tuple(reserved.get(HELD_KEY, ()))
    )


def assign_families(
    spec: dict[str, list[str]], columns: list[str], source: Path | str = "families file"
) -> dict[str, str]:
    """Map every column to its family from a parsed families spec; the rest go to ``other``.

    Raises ChurnlabError when an entry matches no column (probably a typo) or a column is
    matched by two families. The result keeps the order of ``columns``.
    """
    owner: dict[str, str] = {}
    for family, patterns in spec.items():
        for pattern in patterns:
            hits = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
            if not hits:
                raise ChurnlabError(
                    f"Families file {source}: family {family!r} names {pattern!r}, which "
                    f"matches no feature column. Feature columns are: {examples(columns, 8)}."
                )
            for col in hits:
                if owner.get(col, family) != family:
                    raise ChurnlabError(
                        f"Families file {source}: column {col!r} is claimed by both "
                        f"{owner[col]!r} and {family!r} (entry {pattern!r}); every feature "
                        "belongs to exactly one family."
                    )
                owner[col] = family
    return {c: owner.get(c, OTHER) for c in columns}


def held_columns(
    spec: FamiliesSpec, columns: list[str], source: Path | str = "families file"
) -> frozenset[str]:
    """The columns the ``held`` entries name; an entry that matches no column is an error."""
    held: set[str] = set()
    for pattern in spec.held:
        hits = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        if not hits:
            raise ChurnlabError(
                f"Families file {source}: 'held' names {pattern!r}, which matches no feature "
                f"column. Feature columns are: {examples(columns, 8)}."
            )
        held.update(hits)
    return frozenset(held)
