"""Linear scale: every cnnspec command on generated nets of 1k to 100k layers, whole processes.

Generates sequential nets (conv, batchnorm, relu, repeated: one statement per layer) and
residual nets (blocks of five layers: conv, relu, conv, add, relu) of 1,000, 10,000 and
100,000 layers into a temporary folder and runs every command on each (output to /dev/null):
`check` in each format, `check --sizes`, `check` of the file with a syntax error or a shape
error on its last line, `fmt`, `fmt --check`, `graph` (Mermaid and dot), `codegen` and
`codegen --train`. Commands run in rounds (one run of each, then again), so machine noise
hits them alike; the median wall time and peak memory (each process's own maximum resident
set) are shown as ratios to `check` on the same file and to the import floor (Python
importing lark, click and rich), with the growth for 10x the layers. The limits: every
command at most 3x `check`'s time and 2x its peak memory, and 10x the layers at most 12x the
time; cells past them are marked with `!`.

--many N also times `check` of N copies of examples/resnet50.cnn with --jobs 1 and with the
default (every core).

Usage: python benchmarks/scale.py [--runs N] [--sizes 1k,10k,100k] [--nets sequential,residual]
                                  [--commands check,json,...] [--skip sizes@100k] [--many N]
                                  [--plot docs/scale.png] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from typing import NamedTuple

from measure import Run, median_run, run_once

BASELINE = [sys.executable, "-c", "import lark, click, rich.console, rich.table"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME_LIMIT, MEMORY_LIMIT, GROWTH_LIMIT = 3.0, 2.0, 12.0

SEQUENTIAL_UNIT = ("conv(16, k=3, pad=1, bias=false)", "batchnorm", "relu(inplace=true)")
RESIDUAL_BLOCK = """module res(c) {
    add(in -> conv1: conv(c, k=3, pad=1) -> relu -> conv2: conv(c, k=3, pad=1))
    relu
}

"""
LAST_LINES = {  # the broken files: the net with one more line before its closing brace
    "syntax": "    conv(16, k=3,, pad=1)\n",  # E100
    "shape": "    conv(16, k=64)\n",  # E300: the kernel is larger than the 32 x 32 input
}


def sequential_net(layers: int) -> str:
    lines = [SEQUENTIAL_UNIT[i % len(SEQUENTIAL_UNIT)] for i in range(layers)]
    return "net Sequential {\n    input 16x32x32\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def residual_net(blocks: int) -> str:
    return RESIDUAL_BLOCK + "net Residual {\n    input 16x32x32\n" + "    res(16)\n" * blocks + "}\n"


NETS = {"sequential": sequential_net, "residual": lambda layers: residual_net(layers // 5)}


class Command(NamedTuple):
    name: str
    argv: tuple[str, ...]  # FILE stands for the net's file
    file: str = ""  # "syntax" or "shape": the broken variant of the net
    stdin: bool = False  # the net's file on standard input
    exit_status: int = 0


COMMANDS = [
    Command("check", ("check", "FILE")),
    Command("markdown", ("check", "--format", "markdown", "FILE")),
    Command("json", ("check", "--format", "json", "FILE")),
    Command("github", ("check", "--format", "github", "FILE")),
    Command("sarif", ("check", "--format", "sarif", "FILE")),
    Command("sizes", ("check", "--sizes", "FILE")),
    Command("syntax error", ("check", "FILE"), file="syntax", exit_status=1),
    Command("shape error", ("check", "FILE"), file="shape", exit_status=1),
    Command("fmt", ("fmt", "-"), stdin=True),
    Command("fmt --check", ("fmt", "--check", "FILE")),
    Command("graph mermaid", ("graph", "FILE")),
    Command("graph dot", ("graph", "--format", "dot", "FILE")),
    Command("codegen", ("codegen", "FILE")),
    Command("codegen --train", ("codegen", "--train", "FILE")),
]
COMMAND_NAMES = {re.sub(r"[ -]+", "-", command.name): command for command in COMMANDS}  # codegen-train, fmt-check


def layer_count(text: str) -> int:
    """1k -> 1000, 100k -> 100000."""
    return int(float(text.lower().removesuffix("k")) * 1000) if text.lower().endswith("k") else int(text)


def write_nets(folder: str, net: str, layers: int) -> dict[str, str]:
    """The net's files: '' the net itself, 'syntax' and 'shape' its broken variants."""
    text = NETS[net](layers)
    closing = text.rindex("}")
    paths = {}
    for variant, extra in {"": "", **LAST_LINES}.items():
        paths[variant] = os.path.join(folder, f"{net}-{layers}{'-' + variant if variant else ''}.cnn")
        with open(paths[variant], "w", encoding="utf-8") as handle:
            handle.write(text[:closing] + extra + text[closing:])
    return paths


def run_command(command: Command, paths: dict[str, str]) -> Run:
    path = paths[command.file]
    argv = [sys.executable, "-m", "cnnspec", *(path if part == "FILE" else part for part in command.argv)]
    return run_once(argv, cwd=ROOT, stdin=path if command.stdin else None, expect=(command.exit_status,))


def measure_net(net: str, layers: int, commands: list[Command], runs: int, folder: str, skip: set) -> dict[str, Run]:
    """The median run of each command (and of `check`) on the net, run in rounds; not those in `skip`."""
    paths = write_nets(folder, net, layers)
    timed = [COMMAND_NAMES["check"], *(c for c in commands if c.name != "check" and (c.name, layers) not in skip)]
    for command in timed:
        run_command(command, paths)  # warm the caches
    found: dict[str, list[Run]] = {command.name: [] for command in timed}
    for _ in range(runs):
        for command in timed:
            found[command.name].append(run_command(command, paths))
    return {name: median_run(results) for name, results in found.items()}


def mark(value: float, limit: float) -> str:
    return f"{value:.1f}" + (" !" if value > limit else "")


def tables(results: dict, sizes: list[int], commands: list[Command], floor: Run) -> list[str]:
    """The time table and the memory table, markdown."""
    labels = [f"{size // 1000}k" for size in sizes]
    head = "| net | command | " + " | ".join(f"{label} s | × check | × floor" for label in labels)
    growth = [f"{labels[i]}→{labels[i + 1]}" for i in range(len(sizes) - 1)]
    lines = [head + "".join(f" | {g}" for g in growth) + " |", "|---|---|" + "---:|---:|---:|" * len(sizes) + "---:|" * len(growth)]
    for net in dict.fromkeys(net for net, _ in results):
        for command in commands:
            cells = []
            for size in sizes:
                run, check = results[net, size].get(command.name), results[net, size]["check"]
                if run is None:
                    cells.append("– | – | –")
                    continue
                cells.append(f"{run.wall_s:.2f} | {mark(run.wall_s / check.wall_s, TIME_LIMIT)} | {run.wall_s / floor.wall_s:.1f}")
            for small, large in zip(sizes, sizes[1:]):
                if command.name not in results[net, large] or command.name not in results[net, small]:
                    cells.append("–")
                    continue
                ratio = results[net, large][command.name].wall_s / results[net, small][command.name].wall_s
                cells.append(mark(ratio, GROWTH_LIMIT * large / small / 10))
            lines.append(f"| {net} | {command.name} | " + " | ".join(cells) + " |")
    lines += ["", "| net | command | " + " | ".join(f"{label} MiB | × check" for label in labels) + " |"]
    lines.append("|---|---|" + "---:|---:|" * len(sizes))
    for net in dict.fromkeys(net for net, _ in results):
        for command in commands:
            cells = []
            for size in sizes:
                run, check = results[net, size].get(command.name), results[net, size]["check"]
                cells.append("– | –" if run is None else f"{run.peak_mib:.0f} | {mark(run.peak_mib / check.peak_mib, MEMORY_LIMIT)}")
            lines.append(f"| {net} | {command.name} | " + " | ".join(cells) + " |")
    return lines


def many_files(copies: int, runs: int, folder: str) -> list[str]:
    """`check` of `copies` copies of ResNet-50, serial and on every core."""
    files = []
    for index in range(copies):
        files.append(os.path.join(folder, f"resnet50-{index}.cnn"))
        shutil.copy(os.path.join(ROOT, "examples", "resnet50.cnn"), files[-1])
    found: dict[str, list[Run]] = {"1": [], "default": []}
    for _ in range(runs + 1):
        for jobs in found:
            extra = ["--jobs", jobs] if jobs != "default" else []
            found[jobs].append(run_once([sys.executable, "-m", "cnnspec", "check", "-q", *extra, *files], cwd=ROOT))
    serial, parallel = (median_run(found[jobs][1:]) for jobs in found)
    return [
        f"`check -q` of {copies} copies of examples/resnet50.cnn ({os.cpu_count()} cores): "
        f"--jobs 1 {serial.wall_s:.2f} s, default {parallel.wall_s:.2f} s ({serial.wall_s / parallel.wall_s:.1f}x faster)"
    ]


def plot(results: dict, sizes: list[int], commands: list[Command], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = list(dict.fromkeys(net for net, _ in results))
    figure, axes = plt.subplots(1, len(nets), figsize=(6.5 * len(nets), 5.5), sharey=True, squeeze=False)
    for axis, net in zip(axes[0], nets):
        for command in commands:
            style = {"linewidth": 3, "color": "black"} if command.name == "check" else {}
            measured = [size for size in sizes if command.name in results[net, size]]
            times = [results[net, size][command.name].wall_s for size in measured]
            axis.loglog(measured, times, marker="o", label=command.name, **style)
        top = [3 * results[net, size]["check"].wall_s for size in sizes]
        axis.loglog(sizes, top, linestyle="--", color="grey", label="3 × check")
        axis.set_title(f"{net} nets")
        axis.set_xlabel("layers")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("wall time, s (whole process)")
    axes[0][-1].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command; the median is shown (default 3)")
    parser.add_argument("--sizes", default="1k,10k,100k", help="layer counts, comma-separated (default 1k,10k,100k)")
    parser.add_argument("--nets", default="sequential,residual", help="sequential, residual or both (default)")
    parser.add_argument("--commands", help=f"a subset, comma-separated, of: {', '.join(COMMAND_NAMES)} (default: all)")
    parser.add_argument("--skip", default="", help="COMMAND@SIZE,... not run, e.g. sizes@100k (shown as –)")
    parser.add_argument("--many", type=int, default=0, help="also time check of this many files, --jobs 1 against the default")
    parser.add_argument("--plot", metavar="PNG", help="write a log-log plot of time against layers here (needs matplotlib)")
    parser.add_argument("--json", metavar="PATH", help="also write the medians here")
    args = parser.parse_args()
    sizes = sorted(layer_count(size) for size in args.sizes.split(","))
    commands = [COMMAND_NAMES[name.strip()] for name in args.commands.split(",")] if args.commands else COMMANDS
    if commands[0].name != "check":
        commands = [COMMAND_NAMES["check"], *(command for command in commands if command.name != "check")]
    skip = {
        (COMMAND_NAMES[name].name, layer_count(size)) for name, _, size in (item.partition("@") for item in args.skip.split(",") if item)
    }
    floor = median_run([run_once(BASELINE) for _ in range(max(args.runs, 5))])
    print(f"import floor: python -c 'import lark, click, rich.console, rich.table': {floor.wall_s:.3f} s wall, {floor.peak_mib:.0f} MiB\n")
    results: dict[tuple[str, int], dict[str, Run]] = {}
    with tempfile.TemporaryDirectory(prefix="cnnspec-scale-") as folder:
        for net in args.nets.split(","):
            for size in sizes:
                results[net, size] = measure_net(net, size, commands, args.runs, folder, skip)
                check = results[net, size]["check"]
                print(f"{net} {size:,}: check {check.wall_s:.2f} s, {check.peak_mib:.0f} MiB", file=sys.stderr, flush=True)
        print("\n".join(tables(results, sizes, commands, floor)))
        if args.many:
            print("\n" + "\n".join(many_files(args.many, args.runs, folder)))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {f"{net} {size}": {name: run._asdict() for name, run in runs.items()} for (net, size), runs in results.items()}, handle
            )
    if args.plot:
        plot(results, sizes, commands, args.plot)


if __name__ == "__main__":
    main()
