"""Evaluation and benchmark suite (`inspector eval`): quality and speed on MVTec-layout data, vs anomalib.

No Qt here; scikit-learn and matplotlib are imported only when used (bench/dev extras). The command's entry
point is inspector_eval.cli.main (run by `inspector eval`).
"""
