"""The ``churnlab`` command line (README, "Commands").

Each sub-command parses its arguments, calls one function of the package and turns the one
user-error type, :class:`~churnlab.core.errors.ChurnlabError`, into a short message on stderr and
its exit code (2 for bad input). Heavy imports happen inside the commands so that
``churnlab --help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from churnlab.core.errors import ChurnlabError
from churnlab.core.families import FAMILY_ORDER


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit code 2 and no traceback (as it does),
    but also names the command so a scheduled job's log says what failed."""

    def error(self, message: str) -> None:  # pragma: no cover - argparse behaviour
        self.print_usage(sys.stderr)
        self.exit(2, f"churnlab: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except for required options and plain flags."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if action.required or default is None or default is False or default == "":
            return action.help or ""  # nothing worth showing (a flag, or no default)
        return super()._get_help_string(action)


def _add_churn_options(p: argparse.ArgumentParser, seed: bool = True) -> None:
    p.add_argument(
        "--horizon", type=_positive_int, default=1, help="months ahead the model predicts churn"
    )
    if seed:
        p.add_argument("--seed", type=_int, default=0, help="random seed of the model")
    p.add_argument(
        "--churn",
        choices=("cancellation", "inactivity"),
        default="cancellation",
        help="churn from churn_date (cancellation) or from no usage (inactivity)",
    )
    p.add_argument(
        "--inactive-days",
        type=_positive_int,
        default=30,
        metavar="N",
        help="with --churn inactivity: active = a usage row in the N days before the cutoff",
    )


def _add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="what computes the features: duckdb, or spark (needs churnlab[spark])",
    )


def _months(text: str) -> list[str]:
    months = [m.strip() for m in text.split(",") if m.strip()]
    if not months:
        raise argparse.ArgumentTypeError(f"expected months like 2026-09,2026-10, got {text!r}")
    return months


def _add_currency(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--currency",
        default="",
        metavar="CODE",
        help="currency of the billing amounts, shown with every money figure, e.g. EUR "
        "(default: none, amounts without a unit)",
    )


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it is an earlier churnlab run folder (only after the new run "
        "succeeded)",
    )


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = _Parser(
        prog="churnlab",
        description="Find out why customers churn and who will churn next.",
        epilog="Run 'churnlab COMMAND --help' for the options of a command.",
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"churnlab {version('churnlab')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_Help)

    p = command("demo", "run the monthly report on the demo data that ships with churnlab")
    p.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (replaced each run)"
    )
    p.add_argument("--seed", type=_int, default=0, help="random seed of the model")
    _add_currency(p)

    p = command("synth", "write a synthetic dataset in the data contract, with its ground truth")
    p.add_argument(
        "--customers", type=_positive_int, required=True, metavar="N", help="customers to create"
    )
    p.add_argument(
        "--months",
        type=_positive_int,
        required=True,
        metavar="M",
        help="months to report on, from --start; a year of history before them is simulated "
        "too (synth prints the whole span and the months that can be reported)",
    )
    p.add_argument("--seed", type=_int, default=0, help="random seed of the world")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    p.add_argument("--start", default="2024-11", metavar="YYYY-MM", help="first reported month")
    p.add_argument("--dominant", choices=FAMILY_ORDER, help="make one driver family dominate")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format")
    p.add_argument(
        "--actions",
        action="store_true",
        help="also run retention actions with random holdouts (an actions table; docs/actions.md)",
    )

    p = command("validate", "check a dataset folder against the data contract")
    p.add_argument("data", type=Path, metavar="DIR", help="the dataset folder")

    p = command("report", "run the monthly report notebook on a dataset")
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    p.add_argument(
        "--month",
        required=True,
        metavar="YYYY-MM",
        help="report month ('' = the latest complete month of the data)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    _add_churn_options(p)
    _add_currency(p)
    _add_force(p)
    _add_engine_option(p)

    p = command("features", "write the feature table of a dataset as Parquet (no model)")
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="Parquet file to write")
    p.add_argument(
        "--months",
        type=_months,
        default=None,
        metavar="YYYY-MM,...",
        help="snapshot months (default: every complete month of the data)",
    )
    _add_churn_options(p, seed=False)
    _add_engine_option(p)
    p.add_argument(
        "--force", action="store_true", help="replace OUT if it is a feature table churnlab wrote"
    )

    p = command("explain", "train and explain the churn model on a feature table")
    p.add_argument("--table", type=Path, required=True, metavar="FILE", help="CSV or Parquet")
    p.add_argument("--id", dest="id_col", required=True, metavar="COL", help="the id column")
    p.add_argument(
        "--label", dest="label_col", required=True, metavar="COL", help="the churn label column"
    )
    p.add_argument("--families", type=Path, metavar="FILE", help="YAML: family: [columns]")
    p.add_argument(
        "--duration",
        dest="duration_col",
        metavar="COL",
        help="time until churn or the end of observation (the label is then the event flag)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument("--seed", type=_int, default=0, help="random seed of the model")
    _add_force(p)

    p = command(
        "experiment", "compare models over seeds and parameter sets, and drop one family at a time"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, metavar="DIR", help="a dataset folder")
    src.add_argument("--table", type=Path, metavar="FILE", help="a feature table")
    p.add_argument("--id", dest="id_col", metavar="COL", help="with --table: the id column")
    p.add_argument("--label", dest="label_col", metavar="COL", help="with --table: the label")
    p.add_argument("--families", type=Path, metavar="FILE", help="with --table: families YAML")
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument(
        "--params",
        default=None,
        metavar="JSON",
        help="parameter sets to compare, a JSON list such as '[{}, {\"max_depth\": 6}]' "
        "(default: churnlab's model against shallower and deeper trees)",
    )
    p.add_argument("--no-ablation", action="store_true", help="skip the family ablations")
    _add_force(p)

    p = command("notebooks", "copy churnlab's notebooks into a folder to open in JupyterLab")
    p.add_argument("dest", type=Path, metavar="DIR", help="folder to copy them into")
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from churnlab import runs

    data = runs.demo_data_dir()
    month = runs.latest_complete_month(data)
    html = runs.run_report(
        data=data, month=month, out=args.out, seed=args.seed, currency=args.currency, force=True
    )
    print(f"Demo report for {month}: {html}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from churnlab import synth

    out = synth.synthesize(
        args.out,
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        start=args.start,
        dominant=args.dominant,
        fmt=args.format,
        actions=args.actions,
    )
    print(f"Synthetic dataset written to {out}")
    print(synth.span_text(args.start, args.months))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from churnlab import contract

    result = contract.check_dataset(args.data)
    print(result.render())
    return 0 if result.ok else 2


#: commands that pass their options (and --force) on to one function of churnlab.runs, each
#: option named as the function's parameter: the function, the options, what to print
RUN_COMMANDS = {
    "report": (
        "run_report",
        ("data", "month", "out", "horizon", "seed", "churn", "inactive_days", "currency", "engine"),
        "Report written: {}",
    ),
    "features": (
        "run_features",
        ("data", "out", "months", "horizon", "churn", "inactive_days", "engine"),
        "Feature table written: {}",
    ),
    "explain": (
        "run_explain",
        ("table", "id_col", "label_col", "out", "families", "seed", "duration_col"),
        "Explanation written: {}",
    ),
}


def _cmd_run(args: argparse.Namespace) -> int:
    from churnlab import runs

    function, options, message = RUN_COMMANDS[args.command]
    written = getattr(runs, function)(
        **{name: getattr(args, name) for name in options}, force=args.force
    )
    print(message.format(written))
    return 0


def _parse_seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ChurnlabError(
            f"--seeds must be comma-separated whole numbers such as 0,1,2; got {text!r}."
        ) from None


def _parse_param_sets(text: str | None) -> list[dict] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ChurnlabError(
            f"--params must be a JSON list of parameter sets such as "
            f"'[{{}}, {{\"max_depth\": 6}}]'; {text!r} is not valid JSON ({err.msg})."
        ) from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ChurnlabError(
            f"--params must be a JSON list of objects such as '[{{}}, {{\"max_depth\": 6}}]'; "
            f"got {text!r}."
        )
    return value


def _cmd_experiment(args: argparse.Namespace) -> int:
    if args.table is not None and (args.id_col is None or args.label_col is None):
        raise ChurnlabError("experiment --table needs --id COL and --label COL.")
    seeds = _parse_seeds(args.seeds)
    param_sets = _parse_param_sets(args.params)
    from churnlab import runs

    html = runs.run_experiment(
        data=args.data,
        table=args.table,
        id_col=args.id_col,
        label_col=args.label_col,
        families=args.families,
        out=args.out,
        seeds=seeds,
        param_sets=param_sets,
        ablate=not args.no_ablation,
        force=args.force,
    )
    print(f"Experiment written: {html}")
    return 0


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from churnlab import runs

    written = runs.copy_notebooks(args.dest)
    jupyter = Path(sys.executable).with_name("jupyter")
    print(
        f"Copied {len(written)} notebooks to {args.dest}, pointed at the demo data "
        f"({runs.demo_data_dir()}). Open them with: {jupyter} lab {args.dest}"
    )
    return 0


COMMANDS = {
    "demo": _cmd_demo,
    "synth": _cmd_synth,
    "validate": _cmd_validate,
    "report": _cmd_run,
    "features": _cmd_run,
    "explain": _cmd_run,
    "experiment": _cmd_experiment,
    "notebooks": _cmd_notebooks,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``churnlab`` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ChurnlabError as err:
        print(f"churnlab {args.command}: {err}", file=sys.stderr)
        return err.exit_code
    except PermissionError as err:
        print(
            f"churnlab {args.command}: permission denied for {err.filename}. "
            "Choose a folder you can write to (--out) or fix its permissions.",
            file=sys.stderr,
        )
        return 2
    except Exception as err:
        # DuckDB out of memory or disk anywhere else: the machine's limit, said plainly
        from churnlab.core.engine import limit_error

        limit = limit_error(err, f"running churnlab {args.command}")
        if limit is None:
            raise
        print(f"churnlab {args.command}: {limit}", file=sys.stderr)
        return limit.exit_code
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", 2)  # SIGINT unless SIGTERM/SIGHUP (outdir.Terminated)
        print(
            f"churnlab {args.command}: interrupted ({signal.Signals(signum).name}); no "
            "complete output was written.",
            file=sys.stderr,
        )
        return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
