"""`inspector export PROJECT OUT`: the model as a folder that `inspector infer OUT IMAGES` inspects without torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from inference import EngineConfig


def add_parser(sub, common) -> None:
    p = sub.add_parser("export", help="write the model as a folder that inspects without torch (OpenVINO)",
                       description="Export the project's model (OpenVINO IR of the backbone, faiss index, manifest, "
                       "calibration, alignment reference) into a new folder; 'inspector infer OUT IMAGES' inspects "
                       "with it on a PC that has only the edge packages (openvino, faiss-cpu, numpy, opencv, "
                       "pyyaml, pillow).")
    p.add_argument("project", type=Path)
    p.add_argument("out", type=Path, help="new or empty folder")
    common(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from inference import Engine
    from station import Station

    meta = Station(args.project, Engine(EngineConfig.load(args.config))).export(args.out)
    print(f"exported model {meta['model_id']} (version {meta['version']}, {meta['timm_name']}, {meta['input_size']} "
          f"px, OpenVINO {meta['openvino'].split('-')[0]}) to {args.out}")
    return 0
