"""`cnnspec check examples/vgg19.cnn` against torchinfo's summary of the same VGG19, whole processes.

Three commands, each its own process, run alternately (so machine noise hits all alike):
  1. cnnspec check examples/vgg19.cnn (the table to /dev/null);
  2. python building torchvision's VGG19 (random weights) and calling
     torchinfo.summary(model, input_size=(1, 3, 224, 224));
  3. the same with the model and the summary on the meta device (no weights allocated).
Prints a markdown table of median wall time, CPU time and peak memory (each process's own
maximum resident set, from os.wait4), with the ratios to cnnspec.
Usage: python benchmarks/vs_torchinfo.py [--runs N]   (needs torch and torchinfo)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from measure import Run, median_run, run_once

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# torchvision.models.vgg19 (configuration E), written out so that torchvision is not needed.
TORCHINFO_VGG19 = """
import sys
import torch
import torchinfo
from torch import nn

CONFIGURATION_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        layers, channels = [], 3
        for v in CONFIGURATION_E:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


if sys.argv[1] == "meta":
    with torch.device("meta"):
        model = VGG()
    print(torchinfo.summary(model, input_size=(1, 3, 224, 224), device="meta", verbose=0))
else:
    print(torchinfo.summary(VGG(), input_size=(1, 3, 224, 224), verbose=0))
"""

COMMANDS = {
    "cnnspec check examples/vgg19.cnn": [sys.executable, "-m", "cnnspec", "check", "examples/vgg19.cnn"],
    "torchinfo.summary, random weights (CPU)": [sys.executable, "-c", TORCHINFO_VGG19, "cpu"],
    "torchinfo.summary, meta device": [sys.executable, "-c", TORCHINFO_VGG19, "meta"],
}


def missing_modules() -> list[str]:
    return [name for name in ("torch", "torchinfo") if importlib.util.find_spec(name) is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command; medians are shown (default 5)")
    args = parser.parse_args()
    missing = missing_modules()
    if missing:
        sys.exit(f"this benchmark needs {' and '.join(missing)}: pip install torch torchinfo")
    for command in COMMANDS.values():  # warm the OS file cache and the parser cache
        run_once(command, cwd=ROOT)
    runs: dict[str, list[Run]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            runs[name].append(run_once(command, cwd=ROOT))
    medians = {name: median_run(found) for name, found in runs.items()}
    ours = medians["cnnspec check examples/vgg19.cnn"]
    print(f"medians of {args.runs} runs each, on {os.cpu_count()} cores\n")
    print("| command | wall s | × cnnspec | CPU s | × cnnspec | peak MiB | × cnnspec |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, run in medians.items():
        print(
            f"| {name} | {run.wall_s:.2f} | {run.wall_s / ours.wall_s:.1f} | {run.cpu_s:.2f} | {run.cpu_s / ours.cpu_s:.1f} "
            f"| {run.peak_mib:.0f} | {run.peak_mib / ours.peak_mib:.1f} |"
        )


if __name__ == "__main__":
    main()
