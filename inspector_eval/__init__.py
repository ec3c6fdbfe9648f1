"""Evaluation and benchmark suite (`inspector eval`): quality and speed on MVTec-layout data, vs anomalib.

No Qt here; scikit-learn and matplotlib are imported only when used (bench/dev extras).
"""


def main(argv=None) -> int:
    # Imported on call so that `python -m inspector_eval.cli` does not load cli twice.
    from .cli import main as _main

    return _main(argv)


__all__ = ["main"]
