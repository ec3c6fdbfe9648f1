"""What both PyInstaller specs (build.spec, packaging/edge.spec) collect the same way: licence files and
OpenVINO's run-time libraries. Read by the specs at build time; no PyInstaller classes here."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

# OpenVINO loads its device plugins and model readers ("frontends") from openvino/libs/ at run time, which
# PyInstaller cannot see: its hook collects only the frontends whose Python modules were imported (PyTorch,
# TensorFlow, JAX), not the IR reader, and no CPU plugin; a bundle without them converts the network and then
# cannot read it back or run it ('Device with "CPU" name is not registered'), so torch runs the backbone at
# half the speed. Both bundles need the CPU plugin (with TBB's allocator and hwloc, which it loads) and the IR
# reader; the full one also converts torch networks (the PyTorch frontend).
OPENVINO_CPU = ("libopenvino_intel_cpu_plugin", "libopenvino_ir_frontend", "libtbb", "libhwloc")
OPENVINO_CONVERT = ("libopenvino_pytorch_frontend",)
# Frontends the product never reads with: left out, or OpenVINO tries them on the IR too (TensorFlow's prints
# "Error parsing text-format tensorflow.GraphDef" for every IR it is shown).
OPENVINO_UNUSED = re.compile(r"libopenvino_(tensorflow|tensorflow_lite|jax|onnx|paddle|gguf)_frontend|"
                             r"libopenvino_intel_(gpu|npu)_plugin")


def openvino_binaries(wanted: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source, destination folder) of OpenVINO's shared libraries whose names start with one of `wanted`."""
    from PyInstaller.utils.hooks import collect_dynamic_libs

    found = collect_dynamic_libs("openvino", search_patterns=["*.so", "*.so.*", "*.dll", "*.dylib"])
    return [(src, dest) for src, dest in found if Path(src).name.startswith(wanted)]


def without_unused_openvino(toc: list, converts: bool = True) -> list:
    """The Analysis' binaries less OpenVINO's frontends and plugins the product never uses; with `converts`
    False (the edge bundle, which reads its IR only) less the PyTorch frontend too."""
    def unused(name: str) -> bool:
        return bool(OPENVINO_UNUSED.match(name)) or (not converts and name.startswith(OPENVINO_CONVERT))

    return [entry for entry in toc if not unused(Path(entry[0]).name)]


def licence_files(dist_name: str) -> list[tuple[str, str]]:
    """(source, destination folder) of a distribution's licence and notice files, under licenses/<Name>/,
    keeping their sub-folders (torch has licenses/third_party/<lib>/LICENSE: same names must not collide)."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return []
    out = []
    for f in dist.files or []:
        name = f.name.upper()
        if any(word in name for word in ("LICENSE", "LICENCE", "COPYING", "NOTICE")) and ".dist-info" in str(f):
            inside = Path(*f.parts[1:]).parent  # the path below the .dist-info folder
            if inside.parts[:1] == ("licenses",):
                inside = Path(*inside.parts[1:])
            out.append((str(f.locate()), str(Path("licenses") / dist.metadata["Name"] / inside).replace("\\", "/")))
    return out


def requirement_closure(root: str, extras: tuple[str, ...] = ()) -> list[str]:
    """The installed distributions `root` (with `extras`) requires, recursively, `root` included: the packages
    whose code a bundle of it carries, so each one's licence goes in with it."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    names: dict[str, str] = {}
    todo = [(root, tuple(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = canonicalize_name(dist.metadata["Name"])
        if key in names:
            continue
        names[key] = dist.metadata["Name"]
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in (*wanted, "")):
                todo.append((req.name, tuple(req.extras)))
    return sorted(names.values(), key=str.lower)
