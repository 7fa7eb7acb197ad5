"""Command line: ``ecglib list``, ``ecglib run STUDY|all --profile P``, ``ecglib data status|download``,
``ecglib predict-intervals MODEL RECORD...``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

import yaml


def _parse_override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE (VALUE in YAML), got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


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


def _cmd_data_status(args: argparse.Namespace) -> int:
    from ecglib.data import status

    print(status.format_status(status.status_rows(args.data_root)))
    return 0


def _cmd_data_download(args: argparse.Namespace) -> int:
    from ecglib.data import download

    path = download.download(args.name, args.data_root, base_url=args.mirror, force=args.force)
    print(f"{args.name}: ready in {path}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecglib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="studies and their profiles")
    p_list.set_defaults(func=_cmd_list)

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
    p_predict = sub.add_parser(
        "predict-intervals", help="HR, PR, QRS, QT of WFDB records from a saved interval model"
    )
    p_predict.add_argument("model", help="model file saved by ecglib.predict.save_interval_model")
    p_predict.add_argument("records", nargs="+", help="WFDB record paths (without extension, or .hea)")
    p_predict.add_argument("--start-s", type=float, default=0.0, help="window start in each record (s)")
    p_predict.set_defaults(func=_cmd_predict_intervals)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    args = build_parser().parse_args(argv)
    from ecglib.params import ParamsError

    try:
        return args.func(args)
    except ParamsError as err:
        print(f"parameter error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
