# The training code of the scripts that `cnnspec codegen --train` emits (see train.py).
#
# cnnspec reads this file as text and never imports it. The emitted script takes the
# import lines below (merged with the model module's) and everything after the
# "training code" marker. The stand-ins in between exist only so that this file lints
# on its own: in an emitted script the generated model module defines INPUT_SHAPE,
# OUTPUT_SHAPE and build_model().
#
# The layout is `ruff format`'s at line length 88 and also at the repository's 140:
# whatever does not fit in 88 columns is split with a trailing comma. A test checks both.
import argparse
import hashlib
import json
import os
import pickle
import sys
import time
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset, TensorDataset

INPUT_SHAPE: tuple[int, ...] = (1, 28, 28)
OUTPUT_SHAPE: tuple[int, ...] = (10,)


def build_model() -> nn.Module:
    raise NotImplementedError


# ---- training code ----
DEFAULT_LR = {"sgd": 0.01, "adamw": 0.001}
DEFAULT_WEIGHT_DECAY = {"sgd": 1e-4, "adamw": 0.01}
# digits, and an image folder without train/ and val/, are split once and for all:
# the last TEST_FRACTION of a permutation seeded with SPLIT_SEED (never with --seed,
# so that a resumed run sees the same split) is the test set
TEST_FRACTION = 0.2
SPLIT_SEED = 0
SYNTHETIC_STEPS = 100  # one epoch of synthetic data, in steps
SYNTHETIC_POOL = 256  # distinct random images behind the synthetic data


class SetupError(Exception):
    """Data, a checkpoint or options that do not fit the net: found before training."""


class Context(NamedTuple):
    """This process: its rank among world_size processes, its device and precision."""

    rank: int
    world_size: int
    device: torch.device
    amp: bool  # bfloat16 autocast
    memory_format: torch.memory_format
    quiet: bool

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def logs(self) -> bool:
        return self.rank == 0 and not self.quiet

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def move(self, batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of inputs and labels on this process's device."""
        inputs, labels = batch
        device, layout = self.device, self.memory_format
        inputs = inputs.to(device, non_blocking=True, memory_format=layout)
        return inputs, labels.to(device, non_blocking=True)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train the network defined above as an image classifier.",
        epilog="On N processes (GPUs, or gloo on CPU): torchrun --nproc_per_node=N "
        "%(prog)s ...; logs, metrics and checkpoints come from rank 0.",
    )
    parser.add_argument(
        "--data",
        default="synthetic",
        metavar="{synthetic,digits,FILE.npz,DIR}",
        help="synthetic: random images, for throughput (default); digits: "
        "scikit-learn's 8x8 digits, resized to the input; an .npz file with "
        "arrays x (N x C x H x W) and y (N labels); an image folder: DIR/train and "
        "DIR/val, or one folder split 80/20",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=10,
        help="default: %(default)s",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        help="images per process and step (default: %(default)s)",
    )
    parser.add_argument(
        "--optimizer",
        choices=["sgd", "adamw"],
        default="adamw",
        help="sgd: with momentum (default: %(default)s)",
    )
    parser.add_argument("--lr", type=float, help="default: sgd 0.01, adamw 0.001")
    parser.add_argument(
        "--momentum",
        type=float,
        default=0.9,
        help="for sgd (default: %(default)s)",
    )
    parser.add_argument("--weight-decay", type=float, help="sgd: 1e-4, adamw: 1e-2")
    parser.add_argument("--device", help="default: cuda when available, else cpu")
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="bfloat16 autocast (default: on for cuda)",
    )
    parser.add_argument("--channels-last", action="store_true", help="memory format")
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--checkpoint", metavar="PATH", help="saved after every epoch")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint when it exists",
    )
    parser.add_argument("--metrics", metavar="FILE", help="one JSON line per epoch")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="data-loading processes for an image folder (default: %(default)s)",
    )
    parser.add_argument("--steps", type=positive_int, help="stop after this many steps")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint:
        parser.error("--resume needs --checkpoint PATH")
    if args.channels_last and len(INPUT_SHAPE) not in (3, 4):
        parser.error(f"--channels-last needs a 2-d or 3-d input, not {shape_text()}")
    return args


def shape_text(shape: tuple[int, ...] = INPUT_SHAPE) -> str:
    return " x ".join(map(str, shape))


# ---- data ----


class SyntheticImages(Dataset):
    """Random images in the net's input shape, with random labels: `length` samples
    cycling through a pool of distinct ones, kept on the device (loading costs nothing)."""

    def __init__(self, length: int, classes: int, seed: int, device: torch.device):
        generator = torch.Generator().manual_seed(seed)
        pool = min(length, SYNTHETIC_POOL)
        self.images = torch.randn((pool, *INPUT_SHAPE), generator=generator).to(device)
        self.labels = torch.randint(classes, (pool,), generator=generator).to(device)
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index %= len(self.images)
        return self.images[index], self.labels[index]


def load_data(args: argparse.Namespace, context: Context) -> tuple[Dataset, Dataset]:
    """The training set and the test set, once they are known to fit the net."""
    if args.data == "synthetic":
        classes = net_classes()
        length = SYNTHETIC_STEPS * args.batch_size * context.world_size
        train = SyntheticImages(length, classes, args.seed, context.device)
        test = SyntheticImages(SYNTHETIC_POOL, classes, args.seed + 1, context.device)
        return train, test
    if args.data == "digits":
        return digits_data()
    if args.data.endswith(".npz"):
        return npz_data(args.data)
    if os.path.isdir(args.data):
        return image_folder_data(args.data)
    raise SetupError(
        f"--data {args.data}: expected synthetic, digits, an .npz file or a folder",
    )


def net_classes() -> int:
    if len(OUTPUT_SHAPE) != 1:
        raise SetupError(
            f"this script trains classifiers, not a net with {shape_text(OUTPUT_SHAPE)} outputs",
        )
    return OUTPUT_SHAPE[0]


def check_classes(classes: int, data: str) -> None:
    if net_classes() != classes:
        raise SetupError(
            f"--data {data} has {classes} classes but the net has {OUTPUT_SHAPE[0]} outputs",
        )


def digits_data() -> tuple[Dataset, Dataset]:
    """scikit-learn's 1,797 handwritten digits (8 x 8, values 0..16): resized to the
    net's input, repeated over its channels, standardized (mean 0, deviation 1)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SetupError("--data digits needs scikit-learn (pip install scikit-learn)")
    check_classes(10, "digits")
    if len(INPUT_SHAPE) != 3:
        raise SetupError(f"--data digits needs a C x H x W input, not {shape_text()}")
    channels, height, width = INPUT_SHAPE
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    images = nn.functional.interpolate(images, size=(height, width), mode="bilinear")
    images = (images - images.mean()) / images.std()
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return split(TensorDataset(images.repeat(1, channels, 1, 1), labels))


def split(dataset: Dataset) -> tuple[Subset, Subset]:
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    order = torch.randperm(len(dataset), generator=generator).tolist()
    tests = max(1, round(len(order) * TEST_FRACTION))
    return Subset(dataset, order[:-tests]), Subset(dataset, order[-tests:])


def npz_data(path: str) -> tuple[Dataset, Dataset]:
    """Arrays x (N x C x H x W, or N x H x W for one channel; uint8 is scaled to 0..1)
    and y (N class indices)."""
    import numpy as np

    try:
        arrays = np.load(path)
    except (OSError, ValueError) as exc:
        raise SetupError(f"{path}: cannot read the file: {exc}") from None
    if not {"x", "y"} <= set(getattr(arrays, "files", ())):
        raise SetupError(f"{path}: expected an .npz archive with arrays x and y")
    x, y = arrays["x"], arrays["y"]
    one_channel = INPUT_SHAPE[0] == 1 and x.shape[1:] == INPUT_SHAPE[1:]
    if x.dtype.kind not in "biuf" or not (x.shape[1:] == INPUT_SHAPE or one_channel):
        raise SetupError(
            f"{path}: x is {x.dtype} of shape {x.shape}; the net takes N x {shape_text()} numbers",
        )
    if y.shape != (len(x),) or y.dtype.kind not in "iu" or len(y) < 2 or y.min() < 0:
        raise SetupError(
            f"{path}: y must hold a class index (an integer from 0) for each of 2 or more samples; it is {y.dtype} of shape {y.shape}",
        )
    check_classes(int(y.max()) + 1, path)
    images = torch.tensor(x, dtype=torch.float32).reshape(len(x), *INPUT_SHAPE)
    if x.dtype == np.uint8:
        images /= 255
    return split(TensorDataset(images, torch.tensor(y, dtype=torch.int64)))


def image_folder_data(root: str) -> tuple[Dataset, Dataset]:
    """torchvision's ImageFolder: root/train and root/val (ImageNet's layout), or one
    folder split like digits. The images are resized to the net's input."""
    try:
        from torchvision import datasets, transforms
    except ImportError:
        raise SetupError(
            f"--data {root}: an image folder needs torchvision (pip install torchvision)",
        )
    if len(INPUT_SHAPE) != 3 or INPUT_SHAPE[0] not in (1, 3):
        raise SetupError(
            f"--data {root}: images need a net with a 1 or 3 x H x W input, not {shape_text()}",
        )
    channels, height, width = INPUT_SHAPE
    steps = [transforms.Resize((height, width)), transforms.ToTensor()]
    grayscale = [transforms.Grayscale(1)] if channels == 1 else []
    transform = transforms.Compose(grayscale + steps)
    parts = [os.path.join(root, part) for part in ("train", "val")]
    try:
        if all(map(os.path.isdir, parts)):
            train, test = (datasets.ImageFolder(part, transform) for part in parts)
            if train.classes != test.classes:
                raise SetupError(f"--data {root}: train/ and val/ differ in classes")
            classes = train.classes
        else:
            whole = datasets.ImageFolder(root, transform)
            (train, test), classes = split(whole), whole.classes
    except FileNotFoundError as exc:
        raise SetupError(f"--data {root}: {exc}") from None
    check_classes(len(classes), root)
    return train, test


def make_loaders(
    train: Dataset,
    test: Dataset,
    args: argparse.Namespace,
    context: Context,
) -> tuple[DataLoader, DataLoader]:
    """Each process loads its own shard. Training: a DistributedSampler, also for one
    process (the shuffling depends only on --seed and the epoch). Test: every
    world_size-th sample, without DistributedSampler's padding, so counts are exact."""
    synthetic = isinstance(train, SyntheticImages)
    in_memory = synthetic or isinstance(getattr(train, "dataset", None), TensorDataset)
    options = {
        "batch_size": args.batch_size,
        "num_workers": 0 if in_memory else args.workers,
        "pin_memory": context.device.type == "cuda" and not synthetic,
    }
    rank, world_size = context.rank, context.world_size
    sampler = DistributedSampler(train, world_size, rank, shuffle=True, seed=args.seed)
    test_shard = Subset(test, range(rank, len(test), world_size))
    train_loader = DataLoader(train, sampler=sampler, **options)
    return train_loader, DataLoader(test_shard, **options)


# ---- processes and devices ----


def make_context(args: argparse.Namespace) -> Context:
    """torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them, one process."""
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    default = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device or default)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SetupError(f"--device {args.device}: this PyTorch sees no CUDA device")
    if device.type == "cuda":
        index = local_rank if world_size > 1 else device.index or 0
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    amp = device.type == "cuda" if args.amp is None else args.amp
    memory_format = torch.contiguous_format
    if args.channels_last and len(INPUT_SHAPE) == 3:
        memory_format = torch.channels_last
    elif args.channels_last:
        memory_format = torch.channels_last_3d
    return Context(rank, world_size, device, amp, memory_format, args.quiet)


def start_processes(context: Context) -> None:
    if context.distributed:
        dist.init_process_group("nccl" if context.device.type == "cuda" else "gloo")


def sum_over_processes(values: list[float], context: Context) -> list[float]:
    totals = torch.tensor(values, dtype=torch.float64, device=context.device)
    if context.distributed:
        dist.all_reduce(totals)
    return totals.tolist()


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of an epoch's randomness (dropout, the loader's workers) in one process.

    A function of (seed, epoch, rank) alone, set at the start of every epoch (on the CPU
    and every CUDA device), so a run resumed from a checkpoint, which holds no random
    state, draws what an uninterrupted run draws; each process draws its own masks.
    """
    digest = hashlib.sha256(f"{seed}/{epoch}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def parameter_digest(model: nn.Module) -> str:
    """SHA-256 of the parameters' names and bytes."""
    digest = hashlib.sha256()
    for name, parameter in model.named_parameters():
        digest.update(name.encode())
        digest.update(parameter.detach().cpu().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def gather_digests(model: nn.Module, context: Context) -> list[str]:
    """Every process's parameter digest: equal when the processes agree on the weights."""
    if not context.distributed:
        return [parameter_digest(model)]
    digests = [None] * context.world_size
    dist.all_gather_object(digests, parameter_digest(model))
    return digests


# ---- model, optimizer, checkpoints ----


def make_optimizer(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    decay = args.weight_decay
    if decay is None:
        decay = DEFAULT_WEIGHT_DECAY[args.optimizer]
    parameters = model.parameters()
    if args.optimizer == "sgd":
        momentum = args.momentum
        return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=decay)
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)


def save_checkpoint(path: str, state: dict) -> None:
    """torch.save to a temporary file beside `path`, then a rename: a crash never
    leaves half a checkpoint, and the previous one stays until the new one is whole."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def resume(path: str, model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load the checkpoint into the model and the optimizer; return its epoch."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return state["epoch"]
    except pickle.UnpicklingError:
        raise SetupError(f"cannot resume from {path}: not a checkpoint") from None
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise SetupError(f"cannot resume from {path}: {reason}") from None


# ---- training ----


class Progress:
    """A status line: rewritten in place on a terminal, else a new line every 10 s."""

    def __init__(self, title: str, steps: int, enabled: bool):
        self.title, self.steps, self.enabled = title, steps, enabled
        self.terminal = sys.stderr.isatty()
        self.interval = 0.2 if self.terminal else 10.0
        self.shown = time.perf_counter()

    def update(self, step: int, loss: torch.Tensor, images_per_second: float) -> None:
        now = time.perf_counter()
        last = step == self.steps and self.terminal  # elsewhere the epoch's summary
        if not self.enabled or (now - self.shown < self.interval and not last):
            return
        self.shown = now
        bar = "#" * (20 * step // self.steps)
        line = f"{self.title} [{bar:.<20}] {step}/{self.steps} loss {loss.item():.4f}"
        line += f" {images_per_second:,.0f} images/s"
        if self.terminal:
            print(f"\r{line}", end="\n" if last else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_epoch(
    net: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    context: Context,
) -> dict:
    """progress.steps steps. The clock starts after the first one, which pays for the
    warm-up (cuDNN autotuning, torch.compile), unless it is the only one."""
    net.train()
    loss_sum = torch.zeros((), device=context.device)
    images = timed_images = 0
    started = time.perf_counter()
    for step, batch in enumerate(loader, start=1):
        inputs, labels = context.move(batch)
        with context.autocast():
            loss = nn.functional.cross_entropy(net(inputs), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(labels)
        images += len(labels)
        if step == 1 and progress.steps > 1:
            synchronize(context.device)
            started = time.perf_counter()
        else:
            timed_images += len(labels)
        speed = timed_images / max(time.perf_counter() - started, 1e-9)
        progress.update(step, loss_sum / images, speed)
        if step == progress.steps:
            break
    synchronize(context.device)
    elapsed = time.perf_counter() - started
    counts = [loss_sum.item(), images, timed_images]
    loss_total, images, timed_images = sum_over_processes(counts, context)
    return {
        "steps": step,
        "train_loss": loss_total / images,
        "images_per_second": timed_images / elapsed,
    }


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, context: Context) -> dict:
    """Loss and accuracy over the whole test set: each process counts its shard."""
    model.eval()
    if context.distributed:
        # batch-norm statistics drift apart between processes: evaluate rank 0's
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
    loss_sum = torch.zeros((), dtype=torch.float64, device=context.device)
    correct = torch.zeros((), dtype=torch.int64, device=context.device)
    count = 0
    for batch in loader:
        inputs, labels = context.move(batch)
        with context.autocast():
            logits = model(inputs).float()
        loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum")
        correct += (logits.argmax(dim=1) == labels).sum()
        count += len(labels)
    counts = [loss_sum.item(), correct.item(), count]
    loss_total, correct_total, count_total = sum_over_processes(counts, context)
    return {
        "test_loss": loss_total / count_total,
        "test_accuracy": correct_total / count_total,
    }


def log(context: Context, message: str) -> None:
    if context.logs:
        print(message, flush=True)


def summary(record: dict) -> str:
    return (
        f"train loss {record['train_loss']:.4f}, test loss {record['test_loss']:.4f}, "
        f"test accuracy {record['test_accuracy']:.2%}, "
        f"{record['images_per_second']:,.0f} images/s"
    )


def train(args: argparse.Namespace, context: Context) -> None:
    train_set, test_set = load_data(args, context)
    torch.manual_seed(args.seed)  # the same initial weights in every process
    model = build_model().to(context.device, memory_format=context.memory_format)
    optimizer = make_optimizer(model, args)
    done = 0
    if args.resume and os.path.exists(args.checkpoint):
        done = resume(args.checkpoint, model, optimizer)
        log(context, f"resuming from {args.checkpoint} after epoch {done}")
        if done >= args.epochs:
            log(context, f"all {args.epochs} epochs are done; nothing to do")
            return
    elif args.metrics and context.rank == 0:
        open(args.metrics, "w").close()
    start_processes(context)
    net = model
    if context.distributed:
        cuda = context.device.type == "cuda"
        net = DistributedDataParallel(model, [context.device] if cuda else None)
    if args.compile:
        net = torch.compile(net)
    train_loader, test_loader = make_loaders(train_set, test_set, args, context)
    parameters = sum(p.numel() for p in model.parameters())
    sizes = f"{len(train_set):,} training and {len(test_set):,} test images"
    log(context, f"{parameters:,} parameters; {sizes}")
    amp = "on" if context.amp else "off"
    where = f"{context.world_size} process(es) on {context.device.type}"
    log(context, f"{where}; {args.optimizer}; bfloat16 autocast {amp}")
    steps_left = args.steps or len(train_loader) * args.epochs
    for epoch in range(done + 1, args.epochs + 1):
        train_loader.sampler.set_epoch(epoch)
        torch.manual_seed(epoch_seed(args.seed, epoch, context.rank))
        title = f"epoch {epoch}/{args.epochs}"
        steps = min(steps_left, len(train_loader))
        progress = Progress(title, steps, context.logs)
        record = {"epoch": epoch}
        record |= train_epoch(net, train_loader, optimizer, progress, context)
        record |= evaluate(model, test_loader, context)
        record["parameter_sha256"] = gather_digests(model, context)
        log(context, f"{title}: {summary(record)}")
        if context.rank == 0:
            whole = steps == len(train_loader)
            finish_epoch(args, record, model, optimizer, whole)
        steps_left -= steps
        if steps_left == 0:
            break


def finish_epoch(
    args: argparse.Namespace,
    record: dict,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    whole: bool,
) -> None:
    """Rank 0's record of an epoch: a metrics line; a checkpoint when it was whole."""
    if args.metrics:
        with open(args.metrics, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
    if args.checkpoint and whole:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        save_checkpoint(args.checkpoint, state | {"epoch": record["epoch"]})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        train(args, make_context(args))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
