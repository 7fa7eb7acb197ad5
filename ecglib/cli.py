"""Command line: ``ecglib list``, ``ecglib run STUDY|all --profile P``, ``ecglib data status|download``,
``ecglib predict-intervals MODEL RECORD...``, ``ecglib plan STUDY --profile P``,
``ecglib unit run STUDY KEY --profile P``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time


def _parse_override(text: str) -> tuple[str, object]:
    from ecglib.params import ParamsError, load_yaml_text

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE (VALUE in YAML), got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), load_yaml_text(value, where=f"--set {key.strip()}")
    except ParamsError as err:
        raise argparse.ArgumentTypeError(
            f'{err}. Quote the value for your shell, e.g. --set \'patients=["100", "101"]\''
        ) from None


def _cmd_list(args: argparse.Namespace) -> int:
    from ecglib import STUDIES, params, runner

    ready = set(runner.available_studies())
    for study in STUDIES:
        if study in ready:
            print(f"{study:12s} profiles: {', '.join(params.list_profiles(study))}")
        else:
            print(f"{study:12s} (not implemented yet)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ecglib import params, runner

    studies = runner.available_studies() if args.study == "all" else [args.study]
    if not studies:
        print("no study notebooks found", file=sys.stderr)
        return 1
    overrides = dict(args.set or [])
    # Validate every profile before anything runs, so a typo fails in a second, not an hour in.
    for study in studies:
        params.load(study, args.profile, overrides)
    _check_writable_cache()
    failures = []
    for study in studies:
        t0 = time.perf_counter()
        try:
            out = runner.run_study(
                study,
                args.profile,
                output_root=args.output_root,
                overrides=overrides or None,
                data_root=args.data_root,
                log_output=not args.quiet,
            )
            print(f"[ok] {study}/{args.profile}: {time.perf_counter() - t0:.1f} s -> {out}")
        except runner.RunFailed as err:
            print(f"[failed] {study}/{args.profile}: {err}", file=sys.stderr)
            failures.append(study)
    return 1 if failures else 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from ecglib import publish

    try:
        folder = publish.publish(args.study, args.profile, output_root=args.output_root)
    except publish.PublishRefused as err:
        print(f"not published: {err}", file=sys.stderr)
        return 1
    print(f"[ok] {args.study}/{args.profile} published -> {folder}")
    return 0


def _check_writable_cache() -> None:
    """Fail before a run starts when the cache folder cannot be created or written."""
    from ecglib.data import CACHE_ENV, cache_dir

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise CliError(
            f"{folder}: the cache folder is not writable ({err.strerror or err}); "
            f"set ${CACHE_ENV} to a writable folder"
        ) from err


def _cmd_data_status(args: argparse.Namespace) -> int:
    from ecglib.data import status

    print(status.format_status(status.status_rows(args.data_root)))
    return 0


def _cmd_data_download(args: argparse.Namespace) -> int:
    from ecglib.data import REGISTRY, download, info
    from ecglib.params import closest_key

    if args.name not in REGISTRY:
        raise CliError(
            f"unknown dataset {args.name!r}{closest_key(args.name, REGISTRY)}; "
            "`ecglib data status` lists the datasets"
        )
    if info(args.name).kind != "public":
        raise CliError(f"{args.name!r} is generated offline; there is nothing to download")
    path = download.download(args.name, args.data_root, base_url=args.mirror, force=args.force)
    print(f"{args.name}: ready in {path}")
    return 0


class CliError(Exception):
    """A user error found by the command line itself; printed as one line."""


def _cmd_predict_intervals(args: argparse.Namespace) -> int:
    from ecglib.data import DataFormatError
    from ecglib.predict import load_interval_model, predict_intervals

    try:
        model, card = load_interval_model(args.model)
        table = predict_intervals((model, card), args.records, start_s=args.start_s)
    except DataFormatError as err:
        print(f"predict-intervals: {err}", file=sys.stderr)
        return 1
    print(f"model: {args.model} (trained on: {card['trained_on']})")
    units = dict(zip(card["target_names"], card["target_units"]))
    print(table.rename(columns=lambda name: f"{name} [{units[name]}]").round(1).to_string())
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    from ecglib import workflow

    found = workflow.plan(args.study, args.profile, dict(args.set or []), data_root=args.data_root)
    print(json.dumps(found.as_json(), indent=1))
    return 0


def _cmd_unit_run(args: argparse.Namespace) -> int:
    from ecglib import workflow

    _check_writable_cache()
    unit, path, computed = workflow.run_unit(
        args.study, args.profile, args.key, dict(args.set or []), data_root=args.data_root
    )
    print(f"[{'computed' if computed else 'cached'}] {unit.name} -> {path}")
    return 0


def _add_list(sub) -> None:
    p_list = sub.add_parser("list", help="studies and their profiles")
    p_list.set_defaults(func=_cmd_list)


def _add_run(sub) -> None:
    p_run = sub.add_parser("run", help="execute a study notebook (or all) with a profile")
    p_run.add_argument("study", help="study id (jang2021, nguyen2025, vavekanand, surrey, deepfake) or 'all'")
    p_run.add_argument("--profile", default="smoke", help="parameter profile (default: smoke)")
    p_run.add_argument("--output-root", default=None, help="folder for outputs (default: <repo>/outputs)")
    p_run.add_argument("--data-root", default=None, help="data root (default: $ECGLIB_DATA or ~/ecglib_data)")
    p_run.add_argument(
        "--set",
        action="append",
        type=_parse_override,
        metavar="KEY=VALUE",
        help="override one parameter (validated like the profile)",
    )
    p_run.add_argument("--quiet", action="store_true", help="do not echo notebook output")
    p_run.set_defaults(func=_cmd_run)


def _add_publish(sub) -> None:
    p_publish = sub.add_parser(
        "publish", help="copy a finished run's tables, figures and verdict into tracked results/"
    )
    p_publish.add_argument("study", help="study id")
    p_publish.add_argument("--profile", required=True, help="the profile whose run to publish (e.g. local)")
    p_publish.add_argument(
        "--output-root", default=None, help="folder holding the run (default: <repo>/outputs)"
    )
    p_publish.set_defaults(func=_cmd_publish)


def _add_data(sub) -> None:
    p_data = sub.add_parser("data", help="datasets under the data root")
    data_sub = p_data.add_subparsers(dest="data_command", required=True)
    p_status = data_sub.add_parser("status", help="which datasets are present, and how to fetch the others")
    p_status.add_argument("--data-root", default=None)
    p_status.set_defaults(func=_cmd_data_status)
    p_dl = data_sub.add_parser("download", help="fetch a dataset from its official source")
    p_dl.add_argument("name")
    p_dl.add_argument("--data-root", default=None)
    p_dl.add_argument("--mirror", default=None, help="base URL of a mirror with the source's layout")
    p_dl.add_argument("--force", action="store_true", help="download again even if present")
    p_dl.set_defaults(func=_cmd_data_download)


def _add_predict_intervals(sub) -> None:
    p_predict = sub.add_parser(
        "predict-intervals", help="HR, PR, QRS, QT of WFDB records from a saved interval model"
    )
    p_predict.add_argument("model", help="model file saved by ecglib.predict.save_interval_model")
    p_predict.add_argument("records", nargs="+", help="WFDB record paths (without extension, or .hea)")
    p_predict.add_argument("--start-s", type=float, default=0.0, help="window start in each record (s)")
    p_predict.set_defaults(func=_cmd_predict_intervals)


def _add_set(parser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        type=_parse_override,
        metavar="KEY=VALUE",
        help="override one parameter (validated like the profile; changes the keys)",
    )


def _add_plan(sub) -> None:
    p_plan = sub.add_parser("plan", help="a study's units (name, key, needs, cache file, resources) as JSON")
    p_plan.add_argument("study", help="study id (nguyen2025, vavekanand)")
    p_plan.add_argument("--profile", default="smoke", help="parameter profile (default: smoke)")
    p_plan.add_argument(
        "--data-root", default=None, help="data root (default: $ECGLIB_DATA or ~/ecglib_data)"
    )
    _add_set(p_plan)
    p_plan.set_defaults(func=_cmd_plan)


def _add_unit(sub) -> None:
    p_unit = sub.add_parser("unit", help="one unit of a study's plan")
    unit_sub = p_unit.add_subparsers(dest="unit_command", required=True)
    p_run = unit_sub.add_parser("run", help="compute one unit into the cache (nothing when it is there)")
    p_run.add_argument("study", help="study id (nguyen2025, vavekanand)")
    p_run.add_argument("key", help="the unit's key, from `ecglib plan`")
    p_run.add_argument("--profile", default="smoke", help="parameter profile (default: smoke)")
    p_run.add_argument("--data-root", default=None, help="data root (default: $ECGLIB_DATA or ~/ecglib_data)")
    _add_set(p_run)
    p_run.set_defaults(func=_cmd_unit_run)


#: one function per subcommand: it adds its parser (with ``func`` set) to the subparsers. Add a line here.
SUBCOMMANDS = [_add_list, _add_run, _add_publish, _add_data, _add_predict_intervals, _add_plan, _add_unit]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecglib", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix (bad input, missing or damaged files): one line, no traceback."""
    from ecglib.data import DataFormatError, DataMissingError
    from ecglib.data.download import DownloadError
    from ecglib.params import ParamsError
    from ecglib.runner import RunFailed
    from ecglib.workflow import WorkflowError

    return (
        CliError,
        ParamsError,
        RunFailed,
        WorkflowError,
        DataMissingError,
        DataFormatError,
        DownloadError,
        OSError,
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
        text += " (check the path and its permissions, or that the network source is reachable)"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error prints one line ``ecglib: error: ...`` and returns non-zero.

    Exit codes: 0 done, 1 failed (data, run, I/O), 2 invalid parameters or usage,
    130 interrupted (Ctrl-C), 128 + signal number for SIGTERM/SIGHUP. ``--debug`` re-raises
    with the traceback.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line, not only before the subcommand
    args = build_parser().parse_args([arg for arg in argv if arg != "--debug"])
    args.debug = debug
    from ecglib.params import ParamsError
    from ecglib.runner import RunTerminated

    try:
        return args.func(args)
    except KeyboardInterrupt as err:
        if args.debug:
            raise
        signum = getattr(err, "signum", None) if isinstance(err, RunTerminated) else None
        print(f"ecglib: interrupted{f' ({err})' if signum else ''}; previous outputs kept", file=sys.stderr)
        return 128 + signum if signum else 130
    except _user_errors() as err:
        if args.debug:
            raise
        kind = "parameter error" if isinstance(err, ParamsError) else "error"
        print(f"ecglib: {kind}: {_one_line(err)} (--debug shows the traceback)", file=sys.stderr)
        return 2 if isinstance(err, ParamsError) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
