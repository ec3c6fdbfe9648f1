"""`inspector info PROJECT`: what a project holds, whether it can inspect, and why not."""

from __future__ import annotations

from inference import describe_compute, describe_int8, describe_precision_check
from station import describe_project


def cmd_info(args) -> int:
    # main imports this module at its own import (a module first imported while a command runs turned a
    # Ctrl+C there into a death by SIGINT instead of exit 130); main's helpers are loaded by then.
    from .main import _check_outputs, _emit_json, _engine, _err

    _check_outputs(args)
    info = describe_project(args.project, lambda: _engine(args).load(args.project))
    if args.json:
        _emit_json(args, info.to_dict())
    if args.json != "-":
        print(_info_text(args.project, info))
    if info.problems:
        _err(info.problems[0])
        return 2
    return 0


def _stages_text(config: dict) -> str:
    """A CNN model's feature stages and their weights, e.g. "stages 2, 3, 4 (4: x0.7)"."""
    weights = {int(k): v for k, v in (config.get("cnn_stage_weights") or {}).items() if v != 1}
    stages = config.get("cnn_layers") or []
    named = ", ".join(f"{i}: x{weights[i]:g}" for i in stages if i in weights)
    return "stages " + ", ".join(str(i) for i in stages) + (f" ({named})" if named else "")


def _map_text(config: dict) -> str:
    """How the anomaly map is drawn, e.g. "smoothed sigma 4 px; shown with each pixel's excess over a 48 px
    surround (regions and heatmap; the score reads the smoothed map)"."""
    text = f"smoothed sigma {config.get('smoothing_sigma', 4.0):g} px"
    surround = config.get("surround_sigma") or 0.0
    if surround:
        text += (f"; shown with each pixel's excess over a {surround:g} px surround (regions and heatmap; "
                 "the score reads the smoothed map)")
    return text


def _compute_text(compute: dict) -> str:
    """What computes the features here, e.g. "OpenVINO int8 on this machine, with these settings (features cosine
    0.9993 to fp32 on the taught images it was quantised on; refused below 0.999)"."""
    text = f"{describe_compute(compute['runtime'], compute['precision'])} on this machine, with these settings"
    if compute.get("int8_cosine") is not None:
        text += f" ({describe_int8(compute['int8_cosine'])})"
    return text


def _export_text(meta: dict) -> str:
    """Where an exported folder came from, e.g. "from /lines/a/project version v4 on 2026-12-06T03:26:28+00:00,
    OpenVINO IR fp32 (OpenVINO 2026.4.1, app 0.1.0)"."""
    where = f"from {meta.get('exported_from', 'its project')} version {meta.get('version', '?')}"
    when = f" on {meta['exported']}" if meta.get("exported") else ""
    weights = {"half": ", its weights in 7 bits (for CPUs without VNNI)",
               "full": ", its weights in 8 bits (for CPUs with VNNI)"}.get(meta.get("int8_weights"), "")
    return (f"{where}{when}, OpenVINO IR {meta.get('precision', '?')}{weights} "
            f"(OpenVINO {str(meta.get('openvino', '?')).split('-')[0]}, app {meta.get('app_version', '?')})")


def _image_check_text(record) -> str:
    """Whether a frame too dark, too bright or without contrast is an ERROR (inference/image_check.py)."""
    ref = record.exposure
    if not ref:
        return ("off: every image is scored" + ("" if "image_check" in record.config else
                                                 " (fitted before the check: a refit turns it on)"))
    return (f"on: too dark, too bright or without contrast against the taught median brightness {ref['median']:.0f}, "
            f"spread {ref['spread']:.0f}, {ref['clipped']:.0%} clipped is an ERROR")


def _info_text(project, info) -> str:
    record, calibration, note, problems = info.record, info.calibration, info.calibration_note, info.problems
    searched, scanned = info.index, info.ivf_lists
    w = record.backbone.weights
    roi = record.roi
    lines = [
        f"project      {project}",
        f"model        version {record.model_version}, schema {record.schema_version}, "
        f"app {record.app_version}, updated {record.updated}",
        f"backbone     {record.backbone.name} ({record.backbone.timm_name}), "
        f"input {record.input_size} px, tokens {record.token_shape[0]} x {record.token_shape[1]}"
        + (f", {_stages_text(record.config)}" if record.backbone.kind == "cnn" else ""),
        f"weights      {w.get('source')}{'' if w.get('pretrained') else ' (RANDOM: testing only)'}"
        f"{'  ' + w['path'] if w.get('path') else ''}  sha256 {str(w.get('sha256'))[:16]}",
        *([f"precision    {describe_precision_check(record.precision_check)}"] if record.precision_check else []),
        *([f"computes     {_compute_text(info.compute)}"] if info.compute else []),
        *([f"exported     {_export_text(info.export)}"] if info.export else []),
        f"ROI          {roi.get('type')} " + ", ".join(f"{k}={v}" for k, v in roi.items() if k != "type"),
        f"mm per px    {record.mm_per_px or 'not set (areas in px only)'}",
        f"taught       {record.n_images} images, {record.n_embeddings} patch features, "
        f"coreset {record.coreset_size} ({record.config.get('distance')}, {record.config.get('score_mode')}, "
        f"index {record.config.get('index', 'flat')}{f': {searched}' if searched else ''}"
        f"{f', {scanned[0]} of {scanned[1]} lists scanned' if scanned else ''})",
        f"map          {_map_text(record.config)}",
        f"image check  {_image_check_text(record)}",
        f"files        {'all checked' if not problems else 'PROBLEM: ' + problems[0]}",
    ]
    if calibration:
        lines.append(f"calibration  threshold {calibration.threshold:.4f} ({calibration.method}), "
                     f"minimum region area {calibration.min_area_text}"
                     + (" (scores of the int8 backbone)" if calibration.scored_in == "int8" else ""))
        far = ("unknown (no NG images)" if calibration.far is None
               else f"{calibration.far:.1%} of {calibration.n_ng} NG")
        lines += [f"rates        on its images: false reject {calibration.frr:.1%} of {calibration.n_ok} OK, false "
                  f"accept {far}",
                  f"             {calibration.errors.evidence}"]
        if calibration.warning:
            lines.append(f"WARNING      {calibration.warning}")
    elif not problems:
        lines.append(f"calibration  none usable: {note}; no verdicts until calibrated")
    return "\n".join(lines)

