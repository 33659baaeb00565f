"""Check the device katas and the simulated accelerator's claims on a real CUDA GPU.

    python benchmarks/gpu_check.py

On a machine with a GPU, ``kata.accelerator.accelerator()`` uses the GPU itself, so this runs:

1. tests/test_accelerator.py and tests/test_devices.py: the error texts the simulated
   accelerator reproduces are asserted word for word, so here torch's real CUDA wording is
   checked against them;
2. ``kata validate`` on the four device katas, seeds 0..2: each must fail as shipped with
   exactly its declared finding codes, and pass with its solution, on the real device.

Without a GPU it says so and exits 0: the simulated accelerator is what runs there, and the
ordinary test suite covers it. Exit status 1 when a check fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DEVICE_KATAS = (
    "day11/08_batches_on_cpu",
    "day11/11_tensor_created_in_forward",
    "day11/12_metrics_to_numpy",
    "day11/13_model_left_on_cpu",
)
CHECKS = (
    (
        "the simulated accelerator's wording and behaviour, against the real GPU",
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_accelerator.py",
            "tests/test_devices.py",
        ],
    ),
    (
        "the device katas, broken and solved, seeds 0..2",
        [sys.executable, "-m", "kata.cli", "validate", *DEVICE_KATAS, "--seeds", "3"],
    ),
)


def main() -> int:
    if not torch.cuda.is_available():
        print(
            "No CUDA device here (torch.cuda.is_available() is False): nothing to check. "
            "On this machine the device katas run on the simulated accelerator, which "
            "tests/test_accelerator.py covers."
        )
        return 0
    print(
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"{torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} device(s))"
    )
    failed = []
    for title, command in CHECKS:
        print(f"\n== {title}\n$ {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command, cwd=ROOT)
        print(f"-- exit status {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code != 0:
            failed.append(title)
    if failed:
        print("\nFAILED: " + "; ".join(failed))
        return 1
    print("\nAll GPU checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
