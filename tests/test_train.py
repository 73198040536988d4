"""The training script that `cnnspec codegen --train` emits, and `cnnspec train`.

Most tests import an emitted script as a module and call its main() in this process; the
torchrun test and the `cnnspec train` tests start processes. Cost: 30 to 50 s on the 2 shared
cores (MNIST CNN on digits, 3 epochs: 8 to 25 s; torchrun with 2 processes: ~10 s; the two
`cnnspec train` runs: ~8 s; the rest about 5 s).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cnnspec.analyze import analyze
from cnnspec.cli import cli
from cnnspec.codegen.pyformat import LINE_LENGTH
from cnnspec.codegen.train import TEMPLATE, TRAINING_CODE_MARKER, import_block, training_script
from cnnspec.source import Source, read_source
from tests.helpers import FIRST_NETS

ROOT = Path(__file__).resolve().parent.parent
MNIST = ROOT / "examples" / "mnist_cnn.cnn"
RUFF = shutil.which("ruff") or os.path.join(os.path.dirname(sys.executable), "ruff")

TINY = """net Tiny(classes=3) {
    input 1x6x6
    conv(4, k=3, pad=1, bias=false) -> batchnorm -> relu
    gap
    flatten
    linear(classes)
}
"""
# Tiny with dropout: its random masks must not break a resumed run's bit-for-bit equality.
TINY_DROPOUT = TINY.replace("    gap\n", "    dropout(0.5)\n    gap\n    dropout(0.3)\n")
NOT_A_CLASSIFIER = "net Dense {\n    input 1x6x6\n    conv(2, k=1)\n}\n"


def script_text(source: Source, net: str | None = None) -> str:
    return training_script(analyze(source, net), source.path)


def load(path: Path):
    """The emitted script as a module (its main() not run)."""
    spec = importlib.util.spec_from_file_location(f"emitted_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emit(folder: Path, source: Source, net: str | None = None) -> Path:
    path = folder / f"train_{Path(source.path).stem}{'_' + net if net else ''}.py"
    path.write_text(script_text(source, net), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    emit(folder, read_source(str(MNIST)))
    emit(folder, Source("tiny.cnn", TINY))
    emit(folder, Source("tiny_dropout.cnn", TINY_DROPOUT))
    emit(folder, Source("dense.cnn", NOT_A_CLASSIFIER))
    return folder


@pytest.fixture(scope="module")
def mnist(scripts):
    return load(scripts / "train_mnist_cnn.py")


@pytest.fixture(scope="module")
def tiny(scripts):
    return load(scripts / "train_tiny.py")


def train(script, *args) -> int:
    """The exit status of the script's main() with these arguments."""
    try:
        script.main([str(arg) for arg in args])
    except SystemExit as exc:
        return exc.code
    return 0


def metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tiny_npz(tmp_path: Path, samples: int = 60, classes: int = 3) -> Path:
    """N x H x W uint8 images (the N x 1 x H x W input without its channel axis)."""
    generator = torch.Generator().manual_seed(0)
    path = tmp_path / "tiny.npz"
    x = torch.randint(0, 256, (samples, 6, 6), generator=generator, dtype=torch.uint8)
    y = torch.arange(samples) % classes
    save_npz(path, x=x.numpy(), y=y.numpy())
    return path


def save_npz(path: Path, **arrays) -> None:
    import numpy as np

    np.savez(path, **arrays)


# ---- the emitted file ----------------------------------------------------------------------


def test_emitted_scripts_pass_ruff(scripts):
    """At the module emitter's line length; every example, and the nets of these tests."""
    for path, net in FIRST_NETS:
        emit(scripts, read_source(path), net)
    checked = subprocess.run([RUFF, "check", "--isolated", "."], cwd=scripts, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    layout = ["--isolated", "--check", "--diff", f"--line-length={LINE_LENGTH}", "."]
    formatted = subprocess.run([RUFF, "format", *layout], cwd=scripts, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_template_keeps_its_layout_at_the_repository_line_length():
    """The template is also formatted by the repository's ruff settings (line length 140)."""
    formatted = subprocess.run([RUFF, "format", "--check", "--diff", str(TEMPLATE)], cwd=ROOT, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_script_is_the_module_then_the_training_code(scripts):
    text = (scripts / "train_mnist_cnn.py").read_text(encoding="utf-8")
    module = read_source(str(MNIST))
    from cnnspec.codegen.module import generate_module

    generated = generate_module(analyze(module), module.path)
    assert text.startswith(generated.header)
    assert generated.body.strip("\n") in text
    assert text.index("def build_model(") < text.index("def main(") < text.index('if __name__ == "__main__":')
    assert text.count("import torch\n") == 1 and text.count("from torch import nn\n") == 1


def test_no_text_from_the_cnn_file_beyond_the_module(scripts):
    """The training code is the same for every net: only the module part differs."""
    mnist = (scripts / "train_mnist_cnn.py").read_text(encoding="utf-8")
    tiny = (scripts / "train_tiny.py").read_text(encoding="utf-8")
    training_code = TEMPLATE.read_text(encoding="utf-8").partition(TRAINING_CODE_MARKER)[2]
    assert mnist.endswith(training_code) and tiny.endswith(training_code)


def test_import_block_merges_and_orders_like_ruff():
    lines = (
        "import torch",
        "from torch import optim",
        "",
        "from __future__ import annotations",
        "from torch import nn",
        "import os",
        "from collections import OrderedDict",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset, Dataset, DistributedSampler, Subset",
    )
    assert import_block(lines) == (
        "from __future__ import annotations\n\n"
        "import os\nfrom collections import OrderedDict\n\n"
        "import torch\nfrom torch import nn, optim\n"
        "from torch.utils.data import (\n    DataLoader,\n    Dataset,\n    DistributedSampler,\n    Subset,\n    TensorDataset,\n)"
    )


# ---- training ------------------------------------------------------------------------------


def test_mnist_cnn_learns_digits_in_3_epochs(mnist, tmp_path, capsys):
    """The seed's MNIST CNN on scikit-learn's digits (resized to 28 x 28): >= 95% test accuracy."""
    log = tmp_path / "metrics.jsonl"
    assert train(mnist, "--data", "digits", "--epochs", 3, "--metrics", log) == 0
    records = metrics(log)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records[-1]["test_accuracy"] >= 0.95, records
    for record in records:
        assert set(record) >= {"epoch", "train_loss", "test_loss", "test_accuracy", "images_per_second"}
    out = capsys.readouterr().out
    assert "1,438 training and 359 test images" in out and "epoch 3/3: train loss" in out


def test_torchrun_two_cpu_processes_end_with_the_same_weights(scripts, mnist, tmp_path):
    script, log, checkpoint = scripts / "train_mnist_cnn.py", tmp_path / "metrics.jsonl", tmp_path / "mnist.pt"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", str(script)]
    options = ["--data", "digits", "--epochs", "1", "--metrics", str(log), "--checkpoint", str(checkpoint)]
    result = subprocess.run(command + options, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("epoch 1/1: train loss") == 1  # rank 0 logs
    assert "2 process(es) on cpu" in result.stdout
    (record,) = metrics(log)  # rank 0 writes the metrics
    assert record["steps"] == 23  # 1,438 images over 2 processes in batches of 32
    rank0, rank1 = record["parameter_sha256"]
    assert rank0 == rank1
    model = mnist.build_model()
    initial = mnist.parameter_digest(model)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    assert mnist.parameter_digest(model) == rank0 != initial


@pytest.mark.parametrize("name", ["tiny", "tiny_dropout"])
def test_resume_continues_at_the_next_epoch_exactly(scripts, name, tmp_path):
    script = load(scripts / f"train_{name}.py")
    data, checkpoint = tiny_npz(tmp_path), tmp_path / "tiny.pt"
    common = ["--data", data, "--quiet", "--seed", 3]
    assert train(script, *common, "--epochs", 3, "--metrics", tmp_path / "straight.jsonl") == 0
    resumed = tmp_path / "resumed.jsonl"
    assert train(script, *common, "--epochs", 1, "--metrics", resumed, "--checkpoint", checkpoint) == 0
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    assert train(script, *common, "--epochs", 3, "--metrics", resumed, "--checkpoint", checkpoint, "--resume") == 0
    straight, parts = metrics(tmp_path / "straight.jsonl"), metrics(resumed)
    assert [r["epoch"] for r in parts] == [1, 2, 3]
    for epoch in (1, 2):  # the epochs after the resumption
        assert parts[epoch]["parameter_sha256"] == straight[epoch]["parameter_sha256"], epoch
        assert parts[epoch]["train_loss"] == straight[epoch]["train_loss"], epoch
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["resumed.jsonl", "straight.jsonl", "tiny.npz", "tiny.pt"]


def test_resume_after_the_last_epoch_does_nothing(tiny, tmp_path, capsys):
    data, checkpoint = tiny_npz(tmp_path), tmp_path / "tiny.pt"
    assert train(tiny, "--data", data, "--epochs", 1, "--checkpoint", checkpoint, "--quiet") == 0
    before = checkpoint.read_bytes()
    assert train(tiny, "--data", data, "--epochs", 1, "--checkpoint", checkpoint, "--resume") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert checkpoint.read_bytes() == before


def test_checkpoint_write_is_atomic(tiny, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    tiny.save_checkpoint(str(path), {"epoch": 1})

    def fail(state, stream):
        stream.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError, match="No space left"):
        tiny.save_checkpoint(str(path), {"epoch": 2})
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["model.pt"]


def test_synthetic_data_with_channels_last_and_bfloat16_autocast(tiny, tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    assert train(tiny, "--steps", 2, "--batch-size", 4, "--channels-last", "--amp", "--metrics", log) == 0
    (record,) = metrics(log)
    assert record["steps"] == 2 and record["train_loss"] > 0 and 0 <= record["test_accuracy"] <= 1
    assert "bfloat16 autocast on" in capsys.readouterr().out


def test_digits_are_resized_and_repeated_to_the_input(tmp_path):
    cifar = load(emit(tmp_path, read_source(str(ROOT / "examples" / "cifar_cnn.cnn"))))  # 3 x 32 x 32
    train_set, test_set = cifar.digits_data()
    image, label = train_set[0]
    assert image.shape == (3, 32, 32) and torch.equal(image[0], image[2]) and 0 <= label < 10
    assert (len(train_set), len(test_set)) == (1438, 359)
    assert train(cifar, "--data", "digits", "--steps", 2, "--quiet") == 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal(tiny, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    progress = tiny.Progress("epoch 1/2", 4, enabled=True)
    progress.shown -= 1  # as if the last update was a second ago
    progress.update(1, torch.tensor(0.5), 100.0)
    progress.update(2, torch.tensor(0.25), 120.0)  # within 0.2 s of the last: not shown
    progress.update(4, torch.tensor(0.125), 1234.5)
    assert sys.stderr.getvalue() == (
        "\repoch 1/2 [#####...............] 1/4 loss 0.5000 100 images/s\repoch 1/2 [####################] 4/4 loss 0.1250 1,234 images/s\n"
    )


@pytest.mark.parametrize("quiet", ["--quiet", "-q"])
def test_quiet_prints_nothing(tiny, capsys, quiet):
    assert train(tiny, "--steps", 1, "--batch-size", 2, quiet) == 0
    assert capsys.readouterr() == ("", "")


# ---- data that does not fit: a clear error, exit 2, before training --------------------------


def error_of(script, tmp_path, capsys, *args) -> str:
    log = tmp_path / "never.jsonl"
    assert train(script, *args, "--metrics", log) == 2
    assert not log.exists()  # stopped before training
    return capsys.readouterr().err


def test_class_count_mismatch(tiny, tmp_path, capsys):
    assert "--data digits has 10 classes but the net has 3 outputs" in error_of(tiny, tmp_path, capsys, "--data", "digits")
    data = tiny_npz(tmp_path, classes=5)
    assert f"--data {data} has 5 classes but the net has 3 outputs" in error_of(tiny, tmp_path, capsys, "--data", data)


def test_npz_of_the_wrong_shape_or_labels(tiny, tmp_path, capsys):
    path = tmp_path / "bad.npz"
    save_npz(path, x=torch.zeros(10, 2, 6, 6).numpy(), y=torch.zeros(10, dtype=torch.int64).numpy())
    assert "x is float32 of shape (10, 2, 6, 6); the net takes N x 1 x 6 x 6 numbers" in error_of(tiny, tmp_path, capsys, "--data", path)
    save_npz(path, x=torch.zeros(10, 6, 6).numpy(), y=torch.zeros(10).numpy())
    assert "y must hold a class index" in error_of(tiny, tmp_path, capsys, "--data", path)
    save_npz(path, images=torch.zeros(10, 6, 6).numpy())
    assert "expected an .npz archive with arrays x and y" in error_of(tiny, tmp_path, capsys, "--data", path)
    import numpy as np

    np.save(tmp_path / "array.npy", np.zeros(3))
    os.replace(tmp_path / "array.npy", path)
    assert "expected an .npz archive with arrays x and y" in error_of(tiny, tmp_path, capsys, "--data", path)
    path.write_bytes(b"not a zip file")
    assert "cannot read the file" in error_of(tiny, tmp_path, capsys, "--data", path)


def test_unknown_data_and_missing_torchvision(tiny, tmp_path, capsys, monkeypatch):
    assert "expected synthetic, digits, an .npz file or a folder" in error_of(tiny, tmp_path, capsys, "--data", "mnist")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision raises ImportError
    (tmp_path / "images").mkdir()
    message = error_of(tiny, tmp_path, capsys, "--data", tmp_path / "images")
    assert "an image folder needs torchvision (pip install torchvision)" in message


def test_net_that_is_not_a_classifier(scripts, tmp_path, capsys):
    dense = load(scripts / "train_dense.py")
    assert "this script trains classifiers, not a net with 2 x 6 x 6 outputs" in error_of(dense, tmp_path, capsys)


def test_unusable_checkpoint(tiny, tmp_path, capsys):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"garbage")
    message = error_of(tiny, tmp_path, capsys, "--checkpoint", checkpoint, "--resume", "--steps", 1)
    assert f"error: cannot resume from {checkpoint}: not a checkpoint" in message
    torch.save({"model": {"weight": torch.zeros(2)}, "optimizer": {}, "epoch": 1}, checkpoint)
    message = error_of(tiny, tmp_path, capsys, "--checkpoint", checkpoint, "--resume", "--steps", 1)
    assert f"error: cannot resume from {checkpoint}: Error(s) in loading state_dict for Tiny" in message


def test_cuda_requested_without_cuda(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "--device cuda: this PyTorch sees no CUDA device" in error_of(tiny, tmp_path, capsys, "--device", "cuda")


def test_bad_options(tiny, capsys):
    assert train(tiny, "--resume") == 2
    assert "--resume needs --checkpoint PATH" in capsys.readouterr().err
    assert train(tiny, "--epochs", 0) == 2
    assert "expected a positive integer, got 0" in capsys.readouterr().err


# ---- cnnspec train ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "model.cnn") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cnnspec_train_runs_the_script(tmp_path):
    log = tmp_path / "metrics.jsonl"
    result = CliRunner().invoke(cli, ["train", write(tmp_path, TINY), "--steps", "2", "--batch-size", "4", "--metrics", str(log)])
    assert result.exit_code == 0, result.output
    (record,) = metrics(log)
    assert record["epoch"] == 1 and record["steps"] == 2


def test_cnnspec_train_quiet_prints_nothing(tmp_path):
    command = [sys.executable, "-m", "cnnspec", "train", write(tmp_path, TINY), "--steps", "1", "--batch-size", "2", "-q"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.endswith("model.cnn: 0 errors, 1 warning\n")  # the file's W404, then silence
    assert "epoch" not in result.stderr and "parameters" not in result.stderr


def test_cnnspec_train_passes_the_script_status_on(tmp_path):
    result = CliRunner().invoke(cli, ["train", write(tmp_path, TINY), "--data", "digits"])
    assert result.exit_code == 2


def test_cnnspec_train_reports_errors_in_the_file(tmp_path):
    result = CliRunner().invoke(cli, ["train", write(tmp_path, "net Broken {\n    input 1x6x6\n    conv(4, k=9)\n}\n")])
    assert result.exit_code == 1 and "error[E300]" in result.stderr


def test_cnnspec_train_without_torch(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "torch" else find_spec(name, *args))
    result = CliRunner().invoke(cli, ["train", write(tmp_path, TINY)])
    assert result.exit_code == 2 and "cnnspec train needs PyTorch" in result.stderr


def test_cnnspec_train_help_has_an_example():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0 and "cnnspec train examples/mnist_cnn.cnn --data digits --epochs 3" in result.output
