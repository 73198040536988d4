"""Linear scale: `cnnspec check` on generated nets of 1k to 100k layers, whole processes.

Generates sequential nets (conv, batchnorm, relu, repeated) of 1,000, 10,000 and 100,000
layers and residual nets of 1,000 and 10,000 blocks (five layers each: conv, relu, conv,
add, relu) into a temporary folder, runs `cnnspec check FILE` on each (the table goes to
/dev/null) and prints the median wall time, CPU time, peak memory and layers per second (wall and CPU),
with Python importing lark, click and rich as the baseline measured in the same run.
Usage: python benchmarks/scale.py [--runs N] [--largest 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from measure import Run, median_run, run_once

BASELINE = [sys.executable, "-c", "import lark, click, rich.console, rich.table"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SEQUENTIAL_UNIT = ("conv(16, k=3, pad=1, bias=false)", "batchnorm", "relu(inplace=true)")
RESIDUAL_BLOCK = """module res(c) {
    add(in -> conv1: conv(c, k=3, pad=1) -> relu -> conv2: conv(c, k=3, pad=1))
    relu
}
"""


def sequential_net(layers: int) -> str:
    lines = [SEQUENTIAL_UNIT[i % len(SEQUENTIAL_UNIT)] for i in range(layers)]
    return "net Sequential {\n    input 16x32x32\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def residual_net(blocks: int) -> str:
    return RESIDUAL_BLOCK + "net Residual {\n    input 16x32x32\n" + "    res(16)\n" * blocks + "}\n"


def cases(largest: int) -> list[tuple[str, int, str]]:
    """(description, layers, source) for each generated net."""
    found = [(f"sequential, {n:,} layers", n, sequential_net(n)) for n in (1_000, 10_000, 100_000) if n <= largest]
    found += [(f"residual, {n:,} blocks", 5 * n, residual_net(n)) for n in (1_000, 10_000) if 5 * n <= largest]
    return found


def measure(command: list[str], runs: int) -> Run:
    return median_run([run_once(command, cwd=ROOT) for _ in range(runs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per net; the median is shown (default 3)")
    parser.add_argument("--largest", type=int, default=100_000, help="skip nets with more layers than this")
    args = parser.parse_args()
    base = measure(BASELINE, max(args.runs, 5))
    print(f"baseline: python -c 'import lark, click, rich.console, rich.table': {base.wall_s:.3f} s wall, {base.cpu_s:.3f} s CPU\n")
    print("| net | layers | file | wall s | CPU s | peak MiB | layers/s (wall) | layers/s (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="cnnspec-scale-") as folder:
        for description, layers, text in cases(args.largest):
            path = os.path.join(folder, "net.cnn")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            run_once([sys.executable, "-m", "cnnspec", "check", path], cwd=ROOT)  # warm the caches
            result = measure([sys.executable, "-m", "cnnspec", "check", path], args.runs)
            size = f"{len(text) / 1024:,.0f} KiB"
            print(
                f"| {description} | {layers:,} | {size} | {result.wall_s:.2f} | {result.cpu_s:.2f} | {result.peak_mib:.0f} "
                f"| {layers / result.wall_s:,.0f} | {layers / result.cpu_s:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
