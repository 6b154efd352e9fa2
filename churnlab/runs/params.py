"""Run parameters: type and value checks shared by the ``run_*`` commands and the notebooks.

A notebook's first code cell calls the same ``check_*_params`` as the command line does before
a kernel starts, so a wrong-typed ``-p`` parameter under plain papermill gets the same message.
Each check raises one :class:`ChurnlabError` naming the parameter, the value received and the
expected form.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from churnlab.contract import read_dataset
from churnlab.core.churn import CHURN_KINDS, ChurnDefinition
from churnlab.core.errors import ChurnlabError
from churnlab.core.months import parse_month
from churnlab.features import build_feature_table, load_feature_table


def _whole(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as an int: ints and digit strings (papermill ``-r`` passes text) are accepted."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        number = int(value)
    if number is None or (minimum is not None and number < minimum):
        floor = f" >= {minimum}" if minimum is not None else ""
        raise ChurnlabError(
            f"Parameter {name} must be a whole number{floor}; got {value!r} "
            f"({type(value).__name__}). Pass it as e.g. `-p {name} {max(minimum or 0, 1)}`."
        )
    return number


def _text(name: str, value: object, allow_empty: bool = False) -> str:
    if value is None and allow_empty:
        return ""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ChurnlabError(
            f"Parameter {name} must be {'a' if allow_empty else 'a non-empty'} text value; "
            f"got {value!r} ({type(value).__name__})."
        )
    return value.strip()


def _month_param(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""  # '' means: the latest complete month of the data
    if not isinstance(value, str):
        raise ChurnlabError(
            f"Parameter month must be text in the format YYYY-MM (e.g. '2026-10'), or '' for "
            f"the latest complete month; got {value!r} ({type(value).__name__})."
        )
    return parse_month(value)


def _existing(name: str, value: object, kind: str) -> Path:
    path = Path(_text(name, value))
    ok = path.is_dir() if kind == "folder" else path.is_file()
    if not ok:
        what = "dataset folder" if kind == "folder" else "file"
        raise ChurnlabError(
            f"{name}: {what} {str(path)!r} does not exist"
            + (" (it is a folder, not a file)" if kind == "file" and path.is_dir() else "")
            + f". Check the path (relative paths are taken from {os.getcwd()!r})."
        )
    return path


def check_report_params(
    data: object,
    month: object,
    horizon: object = 1,
    seed: object = 0,
    churn: object = "cancellation",
    inactive_days: object = 30,
    out_dir: object = "",
    engine: object = "duckdb",
    currency: object = "",
) -> dict:
    """Validate the monthly report's parameters and return them normalised.

    Raises :class:`ChurnlabError` naming the parameter, the value received and the expected
    form (a whole number, YYYY-MM, one of the churn kinds, an existing folder). Called before a
    kernel starts and again by the report notebook's first code cell.
    """
    churn_text = _text("churn", churn)
    if churn_text not in CHURN_KINDS:
        raise ChurnlabError(f"Parameter churn must be one of {CHURN_KINDS}; got {churn!r}.")
    return {
        "data": str(_existing("data", data, "folder")),
        "month": _month_param(month),
        "horizon": _whole("horizon", horizon, 1),
        "seed": _whole("seed", seed),
        "churn": churn_text,
        "inactive_days": _whole("inactive_days", inactive_days, 1),
        "out_dir": _text("out_dir", out_dir, allow_empty=True),
        "engine": _engine(engine),
        "currency": _currency(currency),
    }


def _engine(value: object) -> str:
    from churnlab.features.build import ENGINES

    text = _text("engine", value)
    if text not in ENGINES:
        raise ChurnlabError(f"Parameter engine must be one of {ENGINES}; got {value!r}.")
    return text


def _currency(value: object) -> str:
    """A currency name for money figures: short text (``EUR``, ``US$``), or '' for none."""
    text = _text("currency", value, allow_empty=True)
    if len(text) > 12 or "\n" in text:
        raise ChurnlabError(
            f"Parameter currency must be a short currency name such as EUR or US$ (at most "
            f"12 characters); got {value!r}."
        )
    return text


def check_explain_params(
    table: object,
    id_col: object,
    label_col: object,
    families: object = "",
    seed: object = 0,
    out_dir: object = "",
    data: object = "",
    duration_col: object = "",
) -> dict:
    """Validate the explanation notebook's parameters (see :func:`check_report_params`).

    ``table`` may be empty when ``data`` names a dataset folder: the notebook then builds the
    feature table from it (its interactive default, on the demo data).
    """
    fam = _text("families", families, allow_empty=True)
    table_text = _text("table", table, allow_empty=True)
    if not table_text and not _text("data", data, allow_empty=True):
        raise ChurnlabError("Give a feature table file (parameter table) to explain.")
    return {
        "table": str(_existing("table", table_text, "file")) if table_text else "",
        "id_col": _text("id_col", id_col),
        "label_col": _text("label_col", label_col),
        "families": str(_existing("families", fam, "file")) if fam else "",
        "seed": _whole("seed", seed),
        "out_dir": _text("out_dir", out_dir, allow_empty=True),
        "data": "" if table_text else str(_existing("data", data, "folder")),
        "duration_col": _text("duration_col", duration_col, allow_empty=True),
    }


def load_table_or_dataset(params: dict):
    """The FeatureTable the explanation notebook works on, from :func:`check_explain_params`.

    A feature table file when ``params['table']`` is set, else the feature table built from
    the dataset folder ``params['data']``.
    """
    if params["table"]:
        return load_feature_table(
            params["table"],
            params["id_col"],
            params["label_col"],
            params["families"] or None,
            params.get("duration_col") or None,
        )
    return build_feature_table(read_dataset(params["data"]))


def definition_of(params: dict) -> ChurnDefinition:
    """The churn definition of checked report parameters (:func:`check_report_params`)."""
    return ChurnDefinition(params["horizon"], params["churn"], params["inactive_days"])
