"""How the taught OK images lie on each set (inference.part_turns) and whether the part looks the same mirrored
(inference.part_mirror), on the eval's nested few-shot subsets.

For each category: every image of the largest subset located on the first (angle), how well the first image's mirror
image matches it against how well the other images do (median), and for each shot count what the eval's few-shot
policy would teach: turned copies (part_symmetry: turns), the mirrors, or no copies (none: a chiral part).
Prints markdown; measures nothing else.
    python bench/turn_evidence.py ../shared/data [--categories mvtec_screw ...] [--shots 1,2,4,8,16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import taught_mirror, taught_turns  # noqa: E402
from inspector_eval.dataset import find_categories, load_images, make_split, parse_shots, read_category  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path)
    p.add_argument("--categories", nargs="*")
    p.add_argument("--shots", default="1,2,4,8,16")
    args = p.parse_args()
    shots = [s for s in parse_shots(args.shots) if s != "all"]
    policy = OursMethod("ours", eval_config(None))
    print("| set | angles of images 2.. to the first (deg) | mirror image's match / OK images' | "
          + " | ".join(shots) + " |")
    print("|---|---|---|" + "---|" * len(shots))
    for folder in find_categories(args.root, args.categories):
        split = make_split(read_category(folder), shots)
        pool = load_images(split.shots[shots[-1]])
        evidence = taught_turns(pool)
        angles = ", ".join("-" if a is None else f"{a:.0f}" for a in evidence.angles_deg)
        mirror = taught_mirror(pool, evidence)
        chosen = [policy.config_for_images(pool[:len(split.shots[s])])[0].part_symmetry for s in shots]
        print(f"| {folder.name} | {angles} ({evidence.describe()}) | {mirror.describe()} | " + " | ".join(chosen)
              + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
