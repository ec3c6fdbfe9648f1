#!/bin/sh
# Issue 4 benchmark: ours vs anomalib PatchCore on ../shared/data, as recorded in docs/benchmarks.md.
# anomalib lives in its own virtual environment so the system torch stays as it is:
#   python -m venv --system-site-packages /work/venv-bench && /work/venv-bench/bin/pip install anomalib
# Without it, `python -m inspector_eval.cli ...` reports ours only.
set -e
PY=${PY:-/work/venv-bench/bin/python}
DATA=${DATA:-../shared/data}
cd "$(dirname "$0")/.."
# Quality + speed, ours vs anomalib, same images / backbone / weights / size / coreset ratio.
$PY -m inspector_eval.cli "$DATA" --categories mvtec_bottle visa_fryum l4v_cookie --shots 1,2,4,8,16 \
    --methods ours,anomalib --json bench/eval_results.json --markdown bench/eval_results.md \
    --plot docs/eval_auroc_vs_shots.png
# All OK images, where anomalib's coreset stays affordable (l4v_cookie: 21 images).
$PY -m inspector_eval.cli "$DATA" --categories l4v_cookie --shots all --methods ours,anomalib \
    --json bench/eval_results_cookie_all.json --markdown bench/eval_results_cookie_all.md
# Our DINOv2 ViT-S/14 setting for speed (random weights offline: its quality figures mean nothing).
$PY -m inspector_eval.cli "$DATA" --categories mvtec_bottle visa_fryum l4v_cookie --shots 16 \
    --methods ours,dinov2 --json bench/eval_dinov2_speed.json --markdown bench/eval_dinov2_speed.md
# CI quick mode (the regression guard in tests/test_eval.py runs the same).
python -m inspector_eval.cli "$DATA" --categories mvtec_bottle --quick
