"""Hover right after a change, through `cnnspec lsp`, against the file's in-process analysis.

Starts the real server over stdio, opens the file, then repeatedly sends a change (the first
layer's width, alternately 64 and 32) and at once a hover on that layer; the time from
sending the change to the hover's answer (which must show the changed width) is compared
with cnnspec.analyze.analyze on the same text in this process. Reports medians and their
ratio (the target: within 2.5x). Usage: python benchmarks/lsp.py [FILE] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Client:
    """A minimal JSON-RPC client over the server's standard input and output."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.process = subprocess.Popen([sys.executable, "-m", "cnnspec", "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.next_id = 0

    def send(self, method: str, params, request: bool = False) -> int | None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()
        return message.get("id")

    def answer(self, request_id: int):
        """Read messages until the response to `request_id` (notifications are skipped)."""
        while True:
            length = 0
            while (line := self.process.stdout.readline().strip()) != b"":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(self.process.stdout.read(length))
            if message.get("id") == request_id and "method" not in message:
                return message.get("result")

    def close(self):
        self.answer(self.send("shutdown", None, request=True))
        self.send("exit", None)
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=os.path.join(ROOT, "examples", "resnet50.cnn"))
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from cnnspec.analyze import analyze
    from cnnspec.source import Source

    text = open(args.file, encoding="utf-8").read()
    line = next(number for number, content in enumerate(text.split("\n")) if content.strip().startswith("conv1: conv(64"))
    texts = [text, text.replace("conv1: conv(64", "conv1: conv(32", 1)]
    client = Client()
    client.answer(client.send("initialize", {"processId": os.getpid(), "capabilities": {}, "rootUri": None}, request=True))
    client.send("initialized", {})
    uri = "file:///benchmark.cnn"
    client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cnnspec", "version": 1, "text": text}})
    position = {"line": line, "character": texts[0].split("\n")[line].index("conv(")}
    hovers, analyses = [], []
    for run in range(args.runs + 3):  # the first three warm both up
        changed = texts[(run + 1) % 2]
        started = time.perf_counter()
        client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": run + 2}, "contentChanges": [{"text": changed}]})
        hover = client.answer(client.send("textDocument/hover", {"textDocument": {"uri": uri}, "position": position}, request=True))
        elapsed = time.perf_counter() - started
        width = "64" if (run + 1) % 2 == 0 else "32"
        assert f"→ {width} × " in hover["contents"]["value"], hover  # the change is analysed
        started = time.perf_counter()
        analyze(Source(uri, changed))
        analysis = time.perf_counter() - started
        if run >= 3:
            hovers.append(elapsed)
            analyses.append(analysis)
    client.close()
    hover_ms, analysis_ms = statistics.median(hovers) * 1000, statistics.median(analyses) * 1000
    print(f"{os.path.relpath(args.file, ROOT)}: {args.runs} runs")
    print(f"  hover after a change, through the server: median {hover_ms:.1f} ms")
    print(f"  in-process analysis:                      median {analysis_ms:.1f} ms")
    print(f"  ratio: {hover_ms / analysis_ms:.2f}x (target: within 2.5x)")


if __name__ == "__main__":
    main()
