"""`inspector`: fit / infer / calibrate / info from a terminal or a line controller.

Exit codes: 0 done; 1 `infer --fail-on-ng` found a part that is not OK (NG, or
NOT_FOUND when alignment is on and the part was not located), or a self-test
check failed; 2 bad input (one readable line on stderr, no saved file
changed; `infer`: an image that could not be inspected, after the others were);
130 cancelled with Ctrl+C (saved model unchanged).

Teaching, calibrating, switching versions and inspecting go through the station
layer (station.Station), the same use cases the window, the service and the run
mode call.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from inference import (
    Cancelled,
    EngineConfig,
    InspectorError,
    RoiError,
    __version__,
    describe_precision_check,
    read_record,
    user_message,
)

from inspector_line.person_args import add_person_arguments, person

from .info import cmd_info

PROG = "inspector"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Subcommands that own their own argument parsing are forwarded untouched.
    if argv[:1] == ["--self-test"]:
        from .selftest import main as selftest_main

        return selftest_main(argv[1:])
    if argv[:1] == ["eval"]:
        try:
            from inspector_eval.cli import main as eval_main
        except ImportError as exc:
            _err(f"inspector eval needs the evaluation suite and its extras ({exc}): pip install -e '.[dev]'")
            return 2
        return eval_main(argv[1:])
    if argv[:1] == ["serve"]:
        from inspector_service.cli import main as serve_main

        return serve_main(argv[1:])
    if argv[:1] in (["versions"], ["activate"], ["audit"]):
        from .versions import main as versions_main

        return versions_main(argv)
    if argv[:1] in (["backup"], ["restore"]):
        from .backup import main as backup_main

        return backup_main(argv)
    if argv[:1] == ["users"]:
        from .users import main as users_main

        return users_main(argv[1:])
    if argv[:1] == ["rescore"]:
        from .rescore import main as rescore_main

        return rescore_main(argv[1:])
    if argv[:1] in (["run"], ["history"], ["opcua-cert"], ["capture"]):
        from inspector_line.cli import main as line_main

        return line_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    before = _saved_state(args)
    try:
        return args.func(args)
    except Cancelled as exc:
        _err(str(exc))
        return 130
    except KeyboardInterrupt:
        _err(_interrupted(args, before))
        return 130
    except InspectorError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:  # a path the user gave: disk full, read-only, permissions, a file for a folder
        _err(user_message(exc))
        return 2
    except Exception as exc:  # a bug, not bad input: still one line, details on request
        if isinstance(exc, ModuleNotFoundError) and user_message(exc):  # a package this installation lacks
            _err(user_message(exc))
            return 2
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _err(f"internal error ({type(exc).__name__}: {exc}); set INSPECTOR_DEBUG=1 for details")
        return 1


def _saved_state(args) -> Optional[tuple]:
    """What a writing command's project holds before it runs: (model_id, calibration seal, newest version),
    or None."""
    if getattr(args, "command", None) not in ("fit", "calibrate"):
        return None
    from inference import list_versions

    try:
        record = read_record(args.project)
        versions = list_versions(args.project)
    except (InspectorError, OSError):
        return (None, None, None)
    return record.model_id, record.files.get("calibration.json"), versions[-1].version if versions else None


def _interrupted(args, before: Optional[tuple]) -> str:
    """Say truthfully what an interrupted command left: after the commit point the new model is saved."""
    if before is None:
        return "interrupted"
    after = _saved_state(args)
    if args.command == "fit" and after[0] != before[0]:
        return f"interrupted after the new model was saved: {args.project} holds it"
    if args.command == "calibrate" and after[1] != before[1]:
        return f"interrupted after the new calibration was saved in {args.project}"
    if after[2] != before[2]:  # a new version was written, but not activated
        return (f"interrupted after the new {'model' if args.command == 'fit' else 'calibration'} was saved as "
                f"version {after[2]} (staged; the active version is unchanged)")
    return "cancelled; the saved model is unchanged"


def _err(message: str) -> None:
    if sys.stderr is not None:
        print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Visual inspection with PatchCore: teach OK parts, find anything different.",
        epilog="Also: 'inspector gui [PROJECT]' opens the window, 'inspector eval DATASET' measures quality, "
        "'inspector --self-test' checks an installation.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    fit = sub.add_parser("fit", help="teach a model from OK images (or add more with --add)",
                         description="Teach a model from images of good parts. The previous model stays "
                         "intact until the new one is complete.")
    fit.add_argument("project", type=Path, help="project folder (created if missing)")
    fit.add_argument("--ok", nargs="+", default=[], metavar="PATH", help="OK images or folders of them")
    fit.add_argument("--false-rejects", action="store_true",
                     help="with --add (implied): also teach the image of every inspection a reviewer marked "
                     "false_reject (inspector history --mark), less those the active model taught already")
    fit.add_argument("--roi", metavar="ROI_JSON",
                     help='ROI as a JSON file or inline JSON, e.g. \'{"type": "circle", "cx": 80, "cy": 80, "r": 60}\'; '
                     "default: the whole image")
    fit.add_argument("--mm-per-px", type=float, metavar="X", help="pixel size in mm, for region areas in mm^2")
    fit.add_argument("--ignore", metavar="IGNORE_JSON",
                     help="regions to ignore inside the ROI, a JSON file or inline JSON list of rect / circle / "
                     'polygon shapes, e.g. \'[{"type": "polygon", "points": [[10, 10], [60, 10], [35, 40]]}]\'')
    fit.add_argument("--locate-box", type=int, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                     help="with align: translation/rigid, where to find the part in the first OK image "
                     "(default: the ROI's box grown by 25%%)")
    fit.add_argument("--add", action="store_true",
                     help="teach more OK images into the existing model without re-embedding the old ones")
    fit.add_argument("--note", default="", help="a note for the version list and the audit trail")
    fit.add_argument("--activate", action="store_true",
                     help="make the new version active at once, even while the active one is calibrated (the line "
                     "then gets no verdict until it is calibrated); default: active only when nothing calibrated is")
    add_person_arguments(fit)
    _common(fit)
    fit.set_defaults(func=cmd_fit)

    from .infer import add_parser as add_infer

    add_infer(sub, _common)

    cal = sub.add_parser("calibrate", help="set the OK/NG threshold from OK (and NG) images",
                         description="Score held-out OK images (and NG images, if given) and store the "
                         "threshold in calibration.json.")
    cal.add_argument("project", type=Path)
    cal.add_argument("--ok", nargs="+", required=True, metavar="PATH", help="OK images not used for fitting")
    cal.add_argument("--ng", nargs="+", default=[], metavar="PATH", help="defective images (optional)")
    cal.add_argument("--marked", action="store_true",
                     help="also the images a reviewer marked (inspector history --mark): false rejects as OK, "
                     "false accepts as NG images")
    cal.add_argument("--score-percentile", type=float, metavar="P",
                     help="OK-only threshold: this percentile of OK scores (default: the calibration before's, "
                          "else the config's)")
    # --area-mm2-thr: the flag's earlier name, still accepted.
    cal.add_argument("--min-area", "--area-mm2-thr", dest="min_area", type=float, metavar="A",
                     help="minimum region area: regions smaller than this do not make a part NG; in mm^2 when the "
                          "project has mm_per_px, else px (default: the calibration before's; for a first one, "
                          "config's min_area)")
    cal.add_argument("--min-length", dest="min_length", type=float, metavar="L",
                     help="minimum region length: a region at least this long (its longest distance across) makes "
                          "a part NG whatever its area, e.g. a thin scratch; mm when the project has mm_per_px, else "
                          "px; 0: none (default: the calibration before's; for a first one, config's min_length)")
    cal.add_argument("--zones", metavar="ZONES_JSON",
                     help="inspection zones, each with its own minimum area, as a JSON file or inline JSON list, e.g. "
                     '\'[{"name": "seal", "min_area": 0.05, "shape": {"type": "circle", "cx": 80, "cy": 80, "r": 20}}]\'; '
                     "min-area holds outside them (default: the zones of the calibration before; '[]': none)")
    cal.add_argument("--version", metavar="VN", help="the model version to calibrate (default: a model taught "
                     "since the active version and not calibrated yet, else the active version)")
    cal.add_argument("--no-activate", action="store_true",
                     help="keep the calibrated version staged; `inspector activate` puts it live later")
    cal.add_argument("--note", default="", help="a note for the version list and the audit trail")
    add_person_arguments(cal)
    _common(cal)
    cal.set_defaults(func=cmd_calibrate)

    info = sub.add_parser("info", help="show what a project holds", description="Show a project's model, "
                          "weights provenance and calibration.")
    info.add_argument("project", type=Path)
    _common(info)
    info.set_defaults(func=cmd_info)
    from .export import add_parser as add_export

    add_export(sub, _common)

    # Handled by the console script (inspector_cli.entry) before this parser; listed here for --help.
    sub.add_parser("gui", help="open the desktop application: inspector gui [PROJECT] [--screenshot OUT.png]")
    sub.add_parser("eval", help="measure quality on MVTec-layout data: inspector eval DATASET_ROOT --help")
    sub.add_parser("serve", help="the inspection service over HTTP: inspector serve --help")
    sub.add_parser("run", help="inspect what a folder, camera or video delivers: inspector run --help")
    sub.add_parser("capture", help="save a camera's frames to teach with, as inspector run takes them: inspector "
                   "capture --help")
    sub.add_parser("history", help="list or export the inspection history: inspector history --help")
    sub.add_parser("opcua-cert", help="make a certificate for the OPC UA PLC handshake: inspector opcua-cert --help")
    sub.add_parser("versions", help="list a project's model versions: inspector versions PROJECT [--json]")
    sub.add_parser("activate", help="make a model version the active one (rollback): inspector activate PROJECT VN")
    sub.add_parser("audit", help="every change that altered verdicts: inspector audit PROJECT [--json]")
    sub.add_parser("backup", help="back a project up into one checked .zip file: inspector backup PROJECT DEST")
    sub.add_parser("restore", help="restore a backup into a new project folder: inspector restore BACKUP PROJECT")
    sub.add_parser("users", help="the people who sign in at the window: inspector users add NAME --roles engineer")
    sub.add_parser("rescore", help="re-score archived images with two versions on Ray: inspector rescore --help")
    return p


def _common(p: argparse.ArgumentParser, json_help: str = "print the result as JSON (or write it to OUT)") -> None:
    p.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML (default: config.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting over the config file and PATCHCORE_ variables (repeatable), e.g. --set "
                   "part_symmetry=turns")
    p.add_argument("--json", nargs="?", const="-", metavar="OUT", help=json_help)


def _engine(args):
    from inference import engine_for  # an exported folder (inspector export) gets the engine of its IR

    return engine_for(getattr(args, "project", None), EngineConfig.load(args.config, settings=args.set))


def _station(args, record: bool = True, who: Optional[str] = None):
    from station import Station

    return Station(args.project, _engine(args), record=record, who=who)


def _progress():
    """A tqdm bar per stage on a terminal; silent when stderr is not one (logs, pipes)."""
    if sys.stderr is None or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step", leave=False)
        bar.n = done
        bar.refresh()

    return update, lambda: [b.close() for b in bars.values()]


def _emit_json(args, payload) -> None:
    text = json.dumps(payload, indent=2)
    if args.json == "-":
        print(text)
    else:
        from inference import atomic_write

        atomic_write(Path(args.json), (text + "\n").encode("utf-8"))


def _check_outputs(args) -> None:
    """Output paths are checked before any work: a typo must not cost a long job."""
    if getattr(args, "json", None) not in (None, "-"):
        out = Path(args.json)
        if out.is_dir():
            raise InspectorError(f"--json {out} is a folder: give a file name")
        if out.parent.exists() and not out.parent.is_dir():
            raise InspectorError(f"--json {out}: {out.parent} is a file, not a folder")
    heatmaps = getattr(args, "heatmaps", None)
    if heatmaps is not None and heatmaps.exists() and not heatmaps.is_dir():
        raise InspectorError(f"--heatmaps {heatmaps} is a file: give a folder")
    project = getattr(args, "project", None)
    if project is not None and project.exists() and not project.is_dir():
        raise InspectorError(f"{project} is a file, not a project folder")


def _json_arg(text: str, flag: str, what: str, parse):
    """A flag's JSON, inline or in a file, through `parse`; RoiError naming the flag where it is neither."""
    path = Path(text)
    try:  # utf-8-sig: a file Windows Notepad saved starts with a byte-order mark, which JSON refuses
        inline = text.lstrip().startswith(("{", "["))
        raw = path.read_text(encoding="utf-8-sig") if not inline and path.is_file() else text
    except (OSError, UnicodeDecodeError) as exc:
        raise RoiError(f"cannot read {what} file {path}: {exc}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise RoiError(f"{flag} must be a JSON file or inline JSON, got {text!r}") from None
    return parse(data)


def _parse_roi(text: Optional[str]):
    from inference import roi_from_dict

    return None if text is None else _json_arg(text, "--roi", "ROI", roi_from_dict)


def _parse_ignore(text: Optional[str]) -> tuple:
    from inference import ignore_list_from_json

    return () if text is None else _json_arg(text, "--ignore", "ignore-region", ignore_list_from_json)


def _parse_zones(text: Optional[str]) -> Optional[tuple]:
    from inference import zones_from_list

    return None if text is None else _json_arg(text, "--zones", "zones", zones_from_list)


def cmd_fit(args) -> int:
    from inference import expand_image_paths

    _check_outputs(args)
    if not args.ok and not args.false_rejects:
        raise InspectorError("fit needs --ok images (or --false-rejects: the images marked false reject)")
    images = expand_image_paths(args.ok)
    station = _station(args, who=person(args, "teach"))  # where a users file is in force: who, before any work
    if args.false_rejects:
        images += _marked(args, station, "false_reject", untaught=True)
    progress, close = _progress()
    try:
        if args.add or args.false_rejects:
            mm = args.mm_per_px
            if mm is not None and not (math.isfinite(mm) and mm > 0):
                raise InspectorError(f"--mm-per-px must be a positive number of mm per pixel, got {mm:g}")
            if args.roi or mm is not None or args.ignore or args.locate_box:
                raise InspectorError("--add keeps the fitted ROI, ignore regions, locate region and mm per pixel; "
                                     "refit without --add to change them")
            result = station.add(images, progress=progress, note=args.note, activate=args.activate or None)
        else:
            result = station.teach(images, roi=_parse_roi(args.roi), mm_per_px=args.mm_per_px, progress=progress,
                                   ignore=_parse_ignore(args.ignore), locate_box=args.locate_box, note=args.note,
                                   activate=args.activate or None)
    finally:
        close()
    summary = result.to_dict()
    if args.json:
        _emit_json(args, summary)
    if args.json != "-":
        w = summary["weights"]
        print(f"fitted {args.project}: {result.n_images} images, {result.n_embeddings} patch features, "
              f"coreset {result.coreset_size}, {result.seconds:.1f} s")
        print(_version_line(result.version, result.active, args.project))
        if summary["backbone_chosen"]:
            print(summary["backbone_chosen"])
        if summary["align_note"]:
            print(summary["align_note"])
        if summary["symmetry_note"]:
            print(summary["symmetry_note"])
        check = summary["precision_check"]
        if check and not check["kept"]:  # said once: why this model inspects slower than the machine could
            print(f"precision: {describe_precision_check(check)}")
        if not w["pretrained"]:
            print("WARNING: random backbone weights (weights: none): scores are for testing only")
    return 0


def _marked(args, station, label: str, need: bool = True, **untaught) -> list:
    """The marked images (Station.marked, `untaught` its arguments), said in one line; `need`: none is bad
    input."""
    marked = station.marked(label, **untaught)
    if need and not marked.paths:
        raise InspectorError(f"no image to teach: {marked.summary()}; mark the NG rows of good parts with "
                             f"inspector history {station.project} --mark ID false_reject")
    if args.json != "-" and (marked.paths or marked.gone or marked.taught):
        print(marked.summary())
    return marked.paths


def _version_line(version: str, active: bool, project) -> str:
    if active:
        return f"version {version} is active: it inspects from the next part on"
    return (f"version {version} is staged: the active calibrated version keeps inspecting until {version} is "
            f"calibrated (inspector calibrate {project} --ok ...)")


def cmd_calibrate(args) -> int:
    from inference import check_values, expand_image_paths

    _check_outputs(args)
    check_values(score_percentile=args.score_percentile, min_area=args.min_area, min_length=args.min_length)
    zones = _parse_zones(args.zones)
    ok = expand_image_paths(args.ok)
    ng = expand_image_paths(args.ng) if args.ng else []
    station = _station(args, who=person(args, "teach"))
    if args.marked:
        ok += _marked(args, station, "false_reject", need=False, untaught=True,
                      version=args.version or station.version_to_calibrate())
        ng += _marked(args, station, "false_accept", need=False)
    progress, close = _progress()
    try:
        done = station.calibrate(ok, ng, version=args.version, score_percentile=args.score_percentile,
                                 min_area=args.min_area, zones=zones, min_length=args.min_length,
                                 activate=not args.no_activate, progress=progress,
                                 note=args.note)
    finally:
        close()
    cal = done.calibration
    if args.json:
        _emit_json(args, done.to_dict())
    if args.json != "-":
        far = "n/a (no NG images)" if cal.far is None else f"{cal.far:.1%}"
        print(f"threshold {cal.threshold:.4f} ({cal.method}, {cal.n_ok} OK / {cal.n_ng} NG): "
              f"false reject {cal.frr:.1%}, false accept {far}, margin {cal.margin:+.4f}, "
              f"minimum region area {cal.min_area_text} (rates by the verdict rule: score and area)")
        print(cal.errors.evidence)
        print(f"calibrated version {done.version}" + (" (active)" if done.active else
                                                       f" (staged: inspector activate {args.project} {done.version})"))
        if cal.warning:
            print(f"WARNING: {cal.warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
