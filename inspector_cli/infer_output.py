"""What `inspector infer` prints and writes per image: the result line, the streamed JSON, the heatmap overlays,
and the part ids it was given."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from inference import InspectorError


def part_ids(args, images, pattern_type, checked) -> Optional[list]:
    if args.part_id is not None and args.part_id_pattern is not None:
        raise InspectorError("give --part-id or --part-id-pattern, not both")
    if args.part_id is not None:
        if len(images) != 1:
            raise InspectorError(f"--part-id names one part, but {len(images)} images were given: use "
                                 "--part-id-pattern to take each part's id from its file name")
        return [checked(args.part_id)]
    if args.part_id_pattern is not None:
        pattern = pattern_type(args.part_id_pattern)
        return [checked(pattern(path)) for path in images]
    return None


def result_line(outcome) -> str:
    """One line per image: verdict, score, name, and why (the same words every client shows)."""
    part = f"  part {outcome.part_id}" if outcome.part_id else ""
    if outcome.score is None:  # NOT_FOUND, ERROR: the reason says why
        return f"{outcome.verdict}  {outcome.name}{part}  {outcome.reason}"
    line = f"{outcome.verdict:2}  {outcome.score:10.4f}  {outcome.name}{part}"
    r = outcome.result
    # Lighting compensation is never silent: how much this part's light was evened out (config brightness).
    light = f"  light {r.brightness_shift:+.0f}" if r is not None and r.brightness_shift is not None else ""
    if outcome.verdict == "NO_VERDICT":
        return line + light
    line += f"  {len(r.regions)} region(s)"
    if outcome.verdict == "NG":
        line += f", NG by {', '.join(f'#{i + 1}' for i in r.ng_regions)}"
    return line + light


@contextmanager
def json_results(args, model):
    """A callable that writes each result into the --json output as it comes (file or stdout), or ignores it."""
    if not args.json:
        yield lambda result: None
        return
    from inference import atomic_writer

    head = {"project": str(args.project), "model_id": model.model_id, "model_version": model.version,
            "calibrated": model.calibration is not None, "note": model.calibration_note}
    opening = json.dumps(head, indent=2)[:-2] + ',\n  "results": [\n'
    first = [True]

    def writer(out):
        out.write(opening)

        def emit(outcome):
            out.write(("" if first[0] else ",\n") + json.dumps(outcome.to_dict(with_heatmap=True)))
            first[0] = False
        return emit

    if args.json == "-":
        yield writer(sys.stdout)
        sys.stdout.write("\n  ]\n}\n")
    else:
        with atomic_writer(Path(args.json)) as fh:
            yield writer(fh)
            fh.write("\n  ]\n}\n")


def write_overlay(folder: Path, path, result, max_megapixels: float) -> None:
    import cv2

    from inference import atomic_write, load_image, overlay_rgb

    image = path if not isinstance(path, (str, Path)) else load_image(path, max_megapixels)
    ok, buf = cv2.imencode(".png", overlay_rgb(image, result)[..., ::-1])
    if ok:
        atomic_write(folder / f"{Path(result.name).stem}_heatmap.png", buf.tobytes())
