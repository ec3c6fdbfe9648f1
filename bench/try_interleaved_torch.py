"""How much a torch workload between two of our inspections slows ours (the eval interleaves anomalib's images with
ours, image by image). Kept for the record (fifteenth session, docs/benchmarks.md, issue 21); prints only.

    python bench/try_interleaved_torch.py [SET_FOLDER]

Ours (the eval's setting, 1 OK image of SET_FOLDER, default ../shared/data/mvtec_bottle) inspects the first 40 test
images alone, then each one right after a torch workload of anomalib's shape (EfficientNet-Lite0 stages 2-3 on a
224 px image and a 784 x 2000 distance matrix, torch's own threads), then after the same workload and a 2 ms
sleep (torch's threads idle by then). Three rounds; the median of each.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import timm  # noqa: E402
import torch  # noqa: E402

from inference import load_image  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "mvtec_bottle"
    method = OursMethod("ours", eval_config())
    method.fit([load_image(p) for p in sorted((folder / "train" / "good").iterdir())[:1]])
    images = [load_image(p) for p in sorted((folder / "test").glob("*/*"))[:40]]
    net = timm.create_model("efficientnet_lite0", pretrained=False, features_only=True, out_indices=(2, 3)).eval()
    bank = torch.randn(2000, 152)

    def torch_work() -> None:
        with torch.no_grad():
            net(torch.randn(1, 3, 224, 224))
            torch.cdist(torch.randn(784, 152), bank).min(1)

    for image in images[:5]:
        method.score(image)
        torch_work()
    times = {"alone": [], "right after torch": [], "after torch and a 2 ms sleep": []}
    for _ in range(3):
        for name, before in zip(times, (lambda: None, torch_work, lambda: (torch_work(), time.sleep(0.002)))):
            for image in images:
                before()
                t = time.perf_counter()
                method.score(image)
                times[name].append(time.perf_counter() - t)
    for name, values in times.items():
        print(f"ours {name}: median {1e3 * statistics.median(values):.2f} ms")
    method.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
