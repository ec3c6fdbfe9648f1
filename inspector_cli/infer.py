"""`inspector infer PROJECT IMAGES`: inspect images with the project's active model (or an exported folder), one
line or JSON result each, each a history row."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, common) -> None:
    inf = sub.add_parser("infer", help="inspect images with a fitted project",
                         description="Score images against the project's model; with a calibration, give "
                         "OK/NG verdicts and anomalous regions.")
    inf.add_argument("project", type=Path)
    inf.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    inf.add_argument("--heatmaps", type=Path, metavar="DIR", help="write a heatmap overlay PNG per image here")
    inf.add_argument("--fail-on-ng", action="store_true",
                     help="exit 1 when any image is not OK: NG, or NOT_FOUND (alignment on, part not located)")
    inf.add_argument("--part-id", metavar="ID", help="the part's id or serial number (one image)")
    inf.add_argument("--part-id-pattern", metavar="REGEX",
                     help="take each part's id from its file name: the regex's first group, e.g. 'SN(\\d+)'")
    inf.add_argument("--bench", action="store_true",
                     help="record these inspections as bench checks, apart from the line's (history purpose)")
    inf.add_argument("--no-history", action="store_true",
                     help="do not record the inspections in PROJECT/history.sqlite (e.g. a read-only project)")
    common(inf, json_help="write results (with base64 heatmap PNGs) as JSON to OUT ('-' = stdout)")
    inf.set_defaults(func=cmd_infer)


def cmd_infer(args) -> int:
    from inference import VerdictCounts, expand_image_paths, plain_os_error
    from station import PartIdPattern, checked_part_id

    from .infer_output import json_results, part_ids, result_line, write_overlay
    from .main import _check_outputs, _err, _progress, _station

    _check_outputs(args)
    images = expand_image_paths(args.images)
    part_ids = part_ids(args, images, PartIdPattern, checked_part_id)
    station = _station(args, record=not args.no_history)
    model = station.model()
    if args.heatmaps:
        try:
            args.heatmaps.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise plain_os_error(exc, args.heatmaps, "create the heatmap folder") from None
    text = args.json != "-"
    if text and model.calibration is None:
        print(f"note: no verdicts: {model.calibration_note} (scores only)")
    counts = VerdictCounts()
    first_error: list = []  # the first image that could not be inspected: its reason, for the one error line
    progress, close = _progress()
    try:
        with json_results(args, model) as emit:
            # One result at a time: each anomaly map is dropped once its overlay and JSON are written.
            outcomes = station.inspect(images, part_ids=part_ids, source="cli", progress=progress,
                                       purpose="bench" if args.bench else "line", model=model)
            for path, outcome in zip(images, outcomes):
                if args.heatmaps and outcome.result is not None and outcome.score is not None:
                    write_overlay(args.heatmaps, path, outcome.result, model.config.max_image_megapixels)
                emit(outcome)
                counts.add(outcome.verdict)
                if outcome.verdict == "ERROR" and not first_error:  # named, where its reason does not name it
                    first_error.append(outcome.reason if outcome.name in outcome.reason
                                       else f"{outcome.name}: {outcome.reason}")
                if text:
                    print(result_line(outcome))
    finally:
        station.close()
        close()
    if text and len(images) > 1:
        print(counts.summary())
    if counts.error:
        _err(f"{counts.error} image(s) could not be inspected ({first_error[0]}); the others were" if len(images) > 1
             else first_error[0])
        return 2
    if args.fail_on_ng and counts.no_verdict:
        _err(f"{counts.no_verdict} image(s) got no verdict ({model.calibration_note or 'see above'}): "
             "a no-verdict part is never OK")
        return 2
    # A part that was not found is not OK either.
    return 1 if args.fail_on_ng and (counts.ng or counts.not_found) else 0
