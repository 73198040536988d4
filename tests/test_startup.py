"""`cnnspec check` and `--help` stay light: torch, numpy and pygments are never imported on those paths."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from cnnspec.cli import main
sys.argv = {argv!r}
try:
    main()
except SystemExit:
    pass
heavy = sorted(name for name in ("torch", "numpy", "pygments", "torchinfo", "hypothesis") if name in sys.modules)
print("HEAVY:", ",".join(heavy), file=sys.stderr)
"""


def run_probe(argv):
    code = PROBE.format(argv=argv)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return result.stderr.strip().splitlines()[-1]


def test_check_does_not_import_torch():
    assert run_probe(["cnnspec", "check", "examples/vgg19.cnn"]) == "HEAVY:"


def test_help_does_not_import_torch():
    assert run_probe(["cnnspec", "--help"]) == "HEAVY:"
