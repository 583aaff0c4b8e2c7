"""CPU kernels for the model's large matrix products, chosen by measurement on the machine that runs.

`use_cpu_kernels(model)` turns the products that dominate a MotionCLR's time (the attention projections, the
feed-forward layers and the temporal convolutions), and the timestep's two-row products, into layers of the same
parameters and state-dict keys whose products on the CPU run through the fastest of several kernels, where
"fastest" is measured on this machine, not assumed from another:

    linear products (M, K) @ (N, K)^T + bias:
      "blas"     torch's own `F.linear` (the BLAS sgemm behind it, weight read transposed)
      "blas_nn"  a plain matmul against a transposed copy of the weight, kept beside the layer (no-grad only)
      "onednn"   oneDNN's inner product (`dense`; its 1 x 1 convolution where gradients are needed)
      "mkl_packed"  MKL's sgemm against a copy of the weight packed once for the call's rows (no-grad only;
                 where the build has MKL): the same kernel as "blas" without repacking the weight at every call
      "blas_t"   the transposed product (N, K) @ (K, M) by torch's BLAS, the weight read as stored, then made
                 (M, N) again: a few rows (the timestep's products) run without the weight being packed
    temporal convolutions (B, C_in, T) * (C_out, C_in, k):
      "direct"   torch's own `F.conv1d`
      "unfold"   the frames unfolded into (B * T, C_in * k) rows, one linear product (itself chosen as above)
    transposed convolutions (the up-sampling ones), under the same two names:
      "direct"   torch's own `F.conv_transpose1d`
      "unfold"   every frame times the weight as stored in one product (a linear product of its own classes,
                 "taps", chosen as above among the kernels that keep no copy), the taps added in place by `F.fold`

The convolution blocks' elementwise tail (GroupNorm's output, the timestep's scale and shift, Mish) runs in
place where nothing needs a gradient, Mish as x n / (n + 2) with n = e^x (e^x + 2): one exponential where
torch's takes an exponential, a logarithm and a tanh (`mish_`); a block whose convolution is forced or pinned
to "direct" runs torch's own tail, as the original does.

The first call of each product class (kernel kind, the weight's shape, the rows rounded up to a power of two,
gradients or not, torch's thread count, the weight streamed or not) times every candidate on the call's own input
(one warm-up and at least `REPEATS` timed runs and `MEASURE_SECONDS` each, taking turns; the lower quartile
counts; a convolution's also from a heap given back to the system, the worse reading counting:
`_time_candidates`); the fastest wins, torch's own unless another is at least `MARGIN` faster. A model whose
weights exceed the CPU's largest cache reads each weight from memory in a run, and its linear products are timed
so, over copies of the weight (`_streamed_candidates`): timed on one weight, the kernels rank otherwise. Before
the first forward of each kind, the U-Net of such a model chooses its classes in the run instead, from whole
forwards each with every such linear class on one kernel, timed call by call, then its convolutions so, their
products chosen (`choose_in_the_run`). The
choice is kept for the process and on disk (`_disk_path`: the user's cache folder, or the JSON file
`MOTIONCLR_LENS_KERNEL_CACHE` names, "off" for none) under a key of the CPU model, torch's cpu capability and
version, so that later processes on the machine run the same kernels and give the same numbers bit for bit;
processes measure a class one at a time (a file lock), so they agree. `MOTIONCLR_LENS_WEIGHT_COPIES=off` leaves out the
kernels that keep a copy of the weight ("blas_nn", "mkl_packed"), for a machine short of memory.

`kernel_choices()` and `describe_kernels(model)` say what was chosen and why (the times);
`force_kernels(linear=..., conv=...)` forces a choice in a block, `pin_kernels(model, ...)` for one model (tests,
benchmarks, numbers that must not depend on a measurement). On a GPU, under autocast and while torch.compile
traces, torch's own kernels run.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import dataclasses
import functools
import itertools
import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .model import (
    FFN,
    AdaGNConvBlock,
    ConvBlock,
    CrossAttention,
    Downsample1d,
    ResidualTemporalBlock,
    SelfAttention,
    UNet1D,
    Upsample1d,
    framewise_group_norm,
)
from .threads import others_busy_window

__all__ = [
    "CONV_KERNELS",
    "LINEAR_KERNELS",
    "DenseLinear",
    "FusedAdaGNConvBlock",
    "FusedConvBlock",
    "KernelChoice",
    "TemporalConv1d",
    "TransposedConv1d",
    "choose_in_the_run",
    "clear_kernel_choices",
    "dense",
    "describe_kernels",
    "force_kernels",
    "kernel_choices",
    "kernel_weight_bytes",
    "last_level_cache_bytes",
    "machine_key",
    "mish_",
    "pin_kernels",
    "streams_weights",
    "use_cpu_kernels",
]

ModuleT = TypeVar("ModuleT", bound=nn.Module)
LINEAR_KERNELS = ("blas", "blas_nn", "onednn", "mkl_packed", "blas_t")
CONV_KERNELS = ("direct", "unfold")
REPEATS = 5  # timed runs of each candidate, at least
MAX_REPEATS = 40
COLD_REPEATS = 3  # a convolution's runs of each candidate from a heap given back to the system
MEASURE_SECONDS = 0.05  # of runs of each candidate, at least (within MAX_REPEATS)
MARGIN = 0.02  # another kernel replaces torch's own only when at least this much faster
BUSY_CORES = 0.5  # other processes' use of the cores while a class was timed, above which the times are not kept
CACHE_ENV = "MOTIONCLR_LENS_KERNEL_CACHE"
# "off" leaves out the kernels that keep a copy of a layer's weight beside it ("blas_nn", "mkl_packed"): for the
# release model they can double the weights' memory (docs/performance.md).
COPIES_ENV = "MOTIONCLR_LENS_WEIGHT_COPIES"
COPYING_KERNELS = ("blas_nn", "mkl_packed")
STREAMED_FLAG = "weights_streamed"  # on each kernel layer: do the model's kernel layers outweigh the largest cache
FALLBACK_CACHE_BYTES = 32 * 2**20  # the largest cache's size where the system does not say
STREAM_SPAN_MAX = 128 * 2**20  # the most bytes of weight copies a streamed timing cycles through


def dense(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """(M, K) @ (N, K)^T + bias by oneDNN on the CPU.

    Where nothing needs a gradient, oneDNN's inner product runs (`mkldnn._linear_pointwise`, the kernel
    torch.compile uses on the CPU; its output is contiguous); otherwise oneDNN's 1 x 1 convolution, which has a
    backward. The sums are those of `F.linear` up to order.
    """
    if x.dtype == weight.dtype == torch.float32 and not _needs_grad(x, weight, bias):
        inner_product = _inner_product()
        if inner_product is not None:
            return inner_product(x, weight, bias, "none", [], "")
    return F.conv1d(x.t().unsqueeze(0), weight.unsqueeze(-1), bias)[0].t()


def _needs_grad(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


@functools.cache
def _inner_product() -> Any:
    """oneDNN's inner product where this build has it and it runs on this CPU (looked up once, on first use)."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        op(torch.ones(2, 2), torch.ones(2, 2), None, "none", [], "")
    except (RuntimeError, NotImplementedError):
        return None
    return op


@functools.cache
def _mkl_packed_ops() -> tuple[Any, Any] | None:
    """MKL's packed sgemm (weight packing, product) where this build has it and it runs here (looked up once)."""
    mkl = getattr(torch.ops, "mkl", None)
    reorder = getattr(mkl, "_mkl_reorder_linear_weight", None)
    product = getattr(mkl, "_mkl_linear", None)
    if reorder is None or product is None or not torch.backends.mkl.is_available():
        return None
    try:
        w = torch.ones(2, 2)
        ok = torch.equal(product(torch.ones(2, 2), reorder(w, 2), w, None, 2), torch.full((2, 2), 2.0))
    except (RuntimeError, NotImplementedError):
        return None
    return (reorder, product) if ok else None


def _available(name: str, weight: Tensor | None = None) -> bool:
    """Whether a linear kernel is a candidate here: in this build, and not a copying one where copies are off or
    for a `weight` seen through a view (a transposed convolution's: no copy of it is kept)."""
    if name in COPYING_KERNELS and (
        (weight is not None and not weight.is_contiguous())
        or os.environ.get(COPIES_ENV, "").strip().lower() in ("off", "0", "no", "false")
    ):
        return False
    return name != "mkl_packed" or _mkl_packed_ops() is not None


# -- the choices ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelChoice:
    """One product class and the kernel chosen for it: the lower-quartile seconds of each candidate on the first input
    of the class (empty when forced or read from disk), and how the choice was made."""

    kind: str  # "linear", "conv", "tconv" (a transposed convolution) or "taps" (a transposed convolution's product)
    shape: tuple[int, ...]  # linear, taps: (in, out); conv, tconv: (c_in, c_out, k), and the stride where not 1
    rows: int  # rows of the product, rounded up to a power of two
    grad: bool
    threads: int
    kernel: str
    seconds: dict[str, float]
    how: str  # "measured", "in the run" (`choose_in_the_run`), either "... while busy" (this process only), "disk"
    streamed: bool = False  # timed with the weight coming from memory, as in a model larger than the cache

    @property
    def key(self) -> str:
        shape = "x".join(map(str, self.shape))
        key = f"{self.kind}:{shape}:rows{self.rows}:{'grad' if self.grad else 'nograd'}:threads{self.threads}"
        return f"{key}:streamed" if self.streamed else key


_CHOICES: dict[str, KernelChoice] = {}
_CHOSEN: dict[tuple[str, tuple[int, ...], int, bool, int, bool], str] = {}  # the hot path's lookup of _CHOICES
_LOCK = threading.Lock()
_GENERATION = [0]  # how many times the choices were forgotten: a model's forwards seen before then are new again
_FORCED: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "motionclr_lens_forced_kernels", default=(None, None)
)


@contextlib.contextmanager
def force_kernels(linear: str | None = None, conv: str | None = None) -> Iterator[None]:
    """Run every product in the block with these kernels (None: the measured choice), in this thread or task."""
    _check_names(linear, conv)
    token = _FORCED.set((linear, conv))
    try:
        yield
    finally:
        _FORCED.reset(token)


def _check_names(linear: str | None, conv: str | None) -> None:
    if linear is not None and linear not in LINEAR_KERNELS:
        raise ValueError(f"linear kernel must be one of {LINEAR_KERNELS} or None, got {linear!r}")
    if conv is not None and conv not in CONV_KERNELS:
        raise ValueError(f"conv kernel must be one of {CONV_KERNELS} or None, got {conv!r}")


def pin_kernels(model: ModuleT, linear: str | None = None, conv: str | None = None) -> ModuleT:
    """Pin the kernels of every layer of `model` that runs through these kernels (None: measured again), so that
    its outputs do not depend on which kernel a measurement favoured: `pin_kernels(model, "blas", "direct")`
    computes as torch's own layers do, the way the original's code runs. `force_kernels` overrides a pin."""
    _check_names(linear, conv)
    for module in model.modules():
        if isinstance(module, (DenseLinear, TemporalConv1d, TransposedConv1d)):
            module.__dict__["pinned_linear"] = linear
        if isinstance(module, (TemporalConv1d, TransposedConv1d)):
            module.__dict__["pinned_conv"] = conv
    return model


def kernel_choices() -> list[KernelChoice]:
    """Every product class met in this process and the kernel it runs, in the order they were met."""
    with _LOCK:
        return list(_CHOICES.values())


def clear_kernel_choices() -> None:
    """Forget every choice (the next call of each class measures again)."""
    with _LOCK:
        _CHOICES.clear()
        _CHOSEN.clear()
        _GENERATION[0] += 1


@functools.cache
def machine_key() -> str:
    """What a choice depends on besides the product: the CPU model, torch's cpu capability and version."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model} | {torch.backends.cpu.get_cpu_capability()} | torch {torch.__version__}"


def _disk_path() -> Path | None:
    """Where choices are kept between processes: `MOTIONCLR_LENS_KERNEL_CACHE` (a JSON file; empty or "off": nowhere),
    by default `kernels.json` in the user's cache folder (`XDG_CACHE_HOME`, else ~/.cache), under `motionclr_lens`."""
    path = os.environ.get(CACHE_ENV)
    if path is not None:
        return None if path.strip().lower() in ("", "off") else Path(path)
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "motionclr_lens" / "kernels.json"


def _read_disk() -> dict[str, Any]:
    path = _disk_path()
    if path is None or not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged cache only costs a measurement
    entries = stored.get(machine_key()) if isinstance(stored, dict) else None
    return entries if isinstance(entries, dict) else {}


def _write_disk(choice: KernelChoice) -> None:
    path = _disk_path()
    if path is None:
        return
    try:
        stored = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    stored.setdefault(machine_key(), {})[choice.key] = {
        "kernel": choice.kernel,
        "seconds": choice.seconds,
        "among": list(choice.seconds),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # the choice still holds for this process


_HELD = threading.local()


@contextlib.contextmanager
def _disk_lock() -> Iterator[None]:
    """An exclusive lock on the disk cache (a `.lock` file beside it) where the platform has one; a thread that
    holds it already (a convolution measuring its unfolded product) goes on."""
    path = _disk_path()
    try:
        import fcntl
    except ImportError:  # no advisory locks here: processes may measure a class each
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None or _HELD.__dict__.get("depth", 0):
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(open(path.with_name(path.name + ".lock"), "a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            handle = None
        _HELD.depth = 1
        try:
            yield
        finally:
            _HELD.depth = 0
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _rows_class(rows: int) -> int:
    return 1 << max(0, rows - 1).bit_length()


@functools.cache
def _release_free_memory() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, which gives the heap's free pages back to the system (None elsewhere)."""
    if platform.system() != "Linux":
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


def _time_candidates(candidates: Mapping[str, Callable[[], object]], cold: bool = False) -> dict[str, float]:
    """Each candidate's seconds, the candidates taking turns (so that a burst of other work on the machine hits
    them alike), after one warm-up each (first calls build oneDNN primitives and grow allocator pools): the lower
    quartile over at least `REPEATS` timed runs and at least `MEASURE_SECONDS` of runs (at most `MAX_REPEATS`),
    from the heap as it is.

    `cold` (the convolutions): the worse of that and the median of `COLD_REPEATS` runs each from a heap whose
    free pages were just given back to the system (glibc only). Torch's direct convolution reorders its weight
    into a fresh buffer at every call (42 MB for a 2048-channel layer, above the largest block glibc's allocator
    keeps for reuse). In a long run that buffer is new pages at every call: 10,000 page faults, which took a
    2048-channel layer from 34 ms to 54-90 ms in the release model's run. Timed just after a step that left a
    large free block in the heap, it costs nothing. The worse reading keeps such a kernel from winning on a lucky
    heap alone.
    """
    for fn in candidates.values():
        fn()
    runs: dict[str, list[float]] = {name: [] for name in candidates}
    while True:
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
        done = len(runs[next(iter(runs))])
        if done >= MAX_REPEATS or (done >= REPEATS and min(map(sum, runs.values())) >= MEASURE_SECONDS):
            break
    seconds = {name: sorted(times)[len(times) // 4] for name, times in runs.items()}
    release = _release_free_memory() if cold else None
    if release is None:
        return seconds
    fresh: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(COLD_REPEATS):
        for name, fn in candidates.items():
            release()
            start = time.perf_counter()
            fn()
            fresh[name].append(time.perf_counter() - start)
    return {name: max(seconds[name], statistics.median(fresh[name])) for name in candidates}


def _chosen(
    kind: str, shape: tuple[int, ...], rows: int, grad: bool, streamed: bool = False
) -> tuple[tuple[Any, ...], str | None]:
    """The class of a call and its kernel if already chosen."""
    key = (kind, shape, _rows_class(rows), grad, torch.get_num_threads(), streamed)
    return key, _CHOSEN.get(key)


def _probe(key: tuple[Any, ...]) -> KernelChoice:
    kind, shape, rows, grad, threads, streamed = key
    return KernelChoice(kind, shape, rows, grad, threads, "", {}, "", streamed)


def _stored(key: tuple[Any, ...], names: list[str]) -> KernelChoice | None:
    """The choice of a class kept on disk, if it was made among the same candidates (a kernel added since is
    measured against it). Read under the disk's lock."""
    probe = _probe(key)
    stored = _read_disk().get(probe.key)
    if isinstance(stored, dict) and stored.get("kernel") in names and stored.get("among") == names:
        return KernelChoice(**{**asdict(probe), "kernel": stored["kernel"], "seconds": {}, "how": "disk"})
    return None


def _decide(key: tuple[Any, ...], seconds: dict[str, float], others: float | None, how: str) -> KernelChoice:
    """The choice from each candidate's seconds (torch's own first): the fastest, torch's own unless another is at
    least `MARGIN` faster; written to disk unless timed while other processes held the cores (`others`, the cores
    they used then, at least `BUSY_CORES`: the times say more about them than about the kernels, and the choice
    serves this process only)."""
    busy = others is not None and others >= BUSY_CORES
    own = next(iter(seconds))
    best = min(seconds, key=seconds.__getitem__)
    kernel = best if seconds[best] < (1 - MARGIN) * seconds[own] else own
    how = f"{how} while busy" if busy else how
    choice = KernelChoice(**{**asdict(_probe(key)), "kernel": kernel, "seconds": seconds, "how": how})
    if not busy:
        _write_disk(choice)
    return choice


def _keep(key: tuple[Any, ...], choice: KernelChoice) -> str:
    with _LOCK:
        choice = _CHOICES.setdefault(choice.key, choice)
        _CHOSEN[key] = choice.kernel
    return choice.kernel


def _choose(key: tuple[Any, ...], candidates: Mapping[str, Callable[[], object]]) -> str:
    """Choose a kernel for a class met for the first time: from disk where stored, else by timing the candidates
    (torch's own first)."""
    with _disk_lock():  # processes on one machine measure a class one at a time and agree on its kernel
        choice = _stored(key, list(candidates))
        if choice is None:
            window = others_busy_window()
            seconds = _time_candidates(candidates, cold=key[0] in CONV_KINDS)
            others = window()
            choice = _decide(key, seconds, others, "measured")
    return _keep(key, choice)


def _forced_conv(layer: nn.Module) -> str | None:
    """The convolution kernel forced in this block (`force_kernels`) or pinned on `layer` (`pin_kernels`), if any."""
    return _FORCED.get()[1] or layer.__dict__.get("pinned_conv")


def _torchs_own() -> bool:
    """Autocast and compilation get torch's own kernels: the ones they know how to lower."""
    return torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling()


# -- the products ----------------------------------------------------------------------------------------------


def _nothing() -> None:
    return None


class _WeightCopy:
    """A copy of a layer's weight that a kernel keeps beside the layer, with the key of what it was made from.
    It is derived data: a deep copy or a pickle of the layer leaves it out (None), and the next call makes it again
    (MKL's packed copy could not be copied or saved at all)."""

    __slots__ = ("key", "value")

    def __init__(self, key: tuple[Any, ...], value: Tensor) -> None:
        self.key, self.value = key, value

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (_nothing, ())


def _kept(owner: nn.Module, slot: str, weight: Tensor, extra: tuple[Any, ...], make: Callable[[], Tensor]) -> Tensor:
    """The copy of `weight` kept beside `owner` under `slot` (not in its state dict), made by `make` again when the
    weight (or `extra`) has changed since."""
    key = (weight.data_ptr(), weight._version, weight.shape, weight.dtype, weight.device, *extra)
    held = owner.__dict__.get(slot)
    if held is None or held.key != key:
        held = _WeightCopy(key, make())
        owner.__dict__[slot] = held
    return held.value


def _transposed(owner: nn.Module, weight: Tensor) -> Tensor:
    """The (K, N) transposed copy of a (N, K) weight: a second copy of that layer's weights, which
    `describe_kernels` counts."""
    return _kept(owner, "_kernel_transposed", weight, (), lambda: weight.detach().t().contiguous())


def _packed(owner: nn.Module, weight: Tensor, rows: int) -> Tensor:
    """MKL's packed copy of a (N, K) weight for products of `rows` rows: about a second copy of that layer's
    weights (MKL allocates more than it fills; the resident size is the weight's), which `describe_kernels`
    counts."""
    ops = _mkl_packed_ops()
    assert ops is not None
    return _kept(owner, "_kernel_packed", weight, (rows,), lambda: ops[0](weight.detach(), rows))


def _leaves(x: Tensor, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Detached copies of a product's operands that require a gradient where the originals do (a timing's backward
    leaves the layer's own gradients untouched)."""
    b = None if bias is None else bias.detach().requires_grad_(bias.requires_grad)
    return x.detach().requires_grad_(x.requires_grad), weight.detach().requires_grad_(weight.requires_grad), b


def _linear_kernel(name: str, owner: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    if name in COPYING_KERNELS and not weight.is_contiguous():
        name = "blas"  # forced on a weight seen through a view, which no kernel copies (`_available`)
    if name == "onednn":
        return dense(x, weight, bias)
    if name == "mkl_packed" and x.dtype == weight.dtype == torch.float32 and not _needs_grad(x, weight, bias):
        ops = _mkl_packed_ops()
        if ops is not None:
            rows = x.shape[0]
            return ops[1](x, _packed(owner, weight, rows), weight, bias, rows)
    if name == "blas_t":
        out = weight @ x.t() if bias is None else torch.addmm(bias.unsqueeze(1), weight, x.t())
        return out.t().contiguous()
    if name == "blas_nn" and not _needs_grad(x, weight, bias):
        wt = _transposed(owner, weight)
        return torch.addmm(bias, x, wt) if bias is not None else x @ wt
    return F.linear(x, weight, bias)


IN_RUN_KERNELS = ("blas", "onednn", "blas_t")  # timed in whole forwards: the kernels that keep no weight copy
IN_RUN_ROUNDS = 3  # whole forwards on each of them, taking turns
CONV_KINDS = ("conv", "tconv")


class _Trial:
    """One forward of a trial (`choose_in_the_run`): the streamed classes without a choice run `linear` (the linear
    classes) or `conv` (the convolutions, both kinds), torch's own linear kernel and the unfolded convolution where
    None, each call timed and summed per class (a convolution's time holds its product's)."""

    def __init__(self, linear: str | None, conv: str | None = None) -> None:
        self.linear, self.conv = linear, conv
        self.seconds: dict[tuple[Any, ...], float] = {}

    def run(self, key: tuple[Any, ...], product: Callable[[str], Tensor]) -> Tensor:
        name = (self.conv or "unfold") if key[0] in CONV_KINDS else (self.linear or "blas")
        start = time.perf_counter()
        out = product(name)
        self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
        return out


_TRIAL: contextvars.ContextVar[_Trial | None] = contextvars.ContextVar("motionclr_lens_kernel_trial", default=None)


def _trial_forward(forward: Callable[[], object], trial: _Trial) -> dict[tuple[Any, ...], float]:
    """Run `forward()` as `trial`: the seconds a forward of each class without a choice."""
    token = _TRIAL.set(trial)
    try:
        forward()
    finally:
        _TRIAL.reset(token)
    return trial.seconds


def _in_run(
    forward: Callable[[], object], keys: list[tuple[Any, ...]], trials: dict[str, Callable[[], _Trial]]
) -> list[KernelChoice]:
    """Choose the kernels of `keys` (classes of one sort) among `trials`' names: `IN_RUN_ROUNDS` rounds of forwards,
    one on each name in turn; each class's kernel the fastest by its median seconds a forward (`_decide`). A class
    the rounds did not meet (the product of a convolution whose kernel, read from disk, is direct) stays unchosen."""
    window = others_busy_window()
    times: dict[str, list[dict[tuple[Any, ...], float]]] = {n: [] for n in trials}
    for _ in range(IN_RUN_ROUNDS):
        for name, trial in trials.items():
            times[name].append(_trial_forward(forward, trial()))
    others = window()
    made = []
    for key in keys:
        if not all(key in run for runs in times.values() for run in runs):
            continue
        seconds = {n: statistics.median(run[key] for run in times[n]) for n in trials}
        choice = _decide(key, seconds, others, "in the run")
        _keep(key, choice)
        made.append(choice)
    return made


def choose_in_the_run(forward: Callable[[], object]) -> list[KernelChoice]:
    """Choose the kernels of the streamed classes a forward meets, timed in whole forwards.

    `forward()` runs the forward (with nothing looking: no hook, no run cache). Timed one class at a time, apart from
    the run, the kernels of a model that reads its weights from memory at every step differ by less than a busy
    host's noise and rank otherwise than in the run (docs/performance.md). Here one forward finds the classes that
    have no choice yet (read from disk where kept), every convolution unfolded so that its product's class is met;
    then `IN_RUN_ROUNDS` rounds of forwards, each with every such linear class on one of `IN_RUN_KERNELS` (taking
    turns), time every call; each class's kernel is the fastest by its median time a forward, torch's own unless
    another is at least `MARGIN` faster. Kernels that keep a copy of the weight are not candidates: a forward on one
    would hold a copy of every weight. Then, the products chosen, rounds of forwards with every such convolution
    direct or unfolded choose the convolutions the same way. Returns the choices made."""
    linear = [n for n in IN_RUN_KERNELS if _available(n)]
    found = _trial_forward(forward, _Trial(None))
    with _disk_lock():
        products: list[tuple[Any, ...]] = []  # the classes without a choice: linear ones, and convolutions
        convs: list[tuple[Any, ...]] = []
        for key in found:
            conv = key[0] in CONV_KINDS
            stored = _stored(key, list(CONV_KERNELS) if conv else linear)
            if stored is not None:
                _keep(key, stored)
            else:
                (convs if conv else products).append(key)
        made = []
        if products:
            made += _in_run(forward, products, {n: functools.partial(_Trial, n) for n in linear})
        if convs:
            made += _in_run(forward, convs, {n: functools.partial(_Trial, None, n) for n in CONV_KERNELS})
    return made


def linear_product(owner: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None, kind: str = "linear") -> Tensor:
    """(M, K) @ (N, K)^T + bias by the kernel chosen for this product class (`owner` keeps what a kernel keeps).
    `kind` names the classes: "taps" for a transposed convolution's, whose weight is a transposed view (the
    kernels rank otherwise on it, and those that keep a copy of the weight are not candidates)."""
    forced = _FORCED.get()[0] or owner.__dict__.get("pinned_linear")
    if x.device.type != "cpu" or _torchs_own():
        name: str | None = "blas"
    elif forced is not None:
        name = forced
    else:
        grad = _needs_grad(x, weight, bias)
        streamed = not grad and bool(owner.__dict__.get(STREAMED_FLAG))
        key, name = _chosen(kind, (weight.shape[1], weight.shape[0]), x.shape[0], grad, streamed)
        trial = _TRIAL.get() if name is None and streamed else None
        if trial is not None:
            return trial.run(key, functools.partial(_linear_kernel, owner=owner, x=x, weight=weight, bias=bias))
        if name is None:
            names: tuple[str, ...]
            if grad:
                names = ("blas", "onednn")
                name = _choose(key, {n: functools.partial(_timed_backward, n, owner, x, weight, bias) for n in names})
            else:
                names = tuple(n for n in LINEAR_KERNELS if _available(n, weight))
                if streamed:
                    candidates = _streamed_candidates(names, x, weight, bias)
                else:
                    candidates = {n: functools.partial(_linear_kernel, n, owner, x, weight, bias) for n in names}
                name = _choose(key, candidates)
                del candidates
                release = _release_free_memory() if streamed else None
                if release is not None:
                    release()  # the copies' pages go back to the system, not kept by the heap for the process
                # The copies the timing made, where another kernel won.
                if name != "blas_nn":
                    owner.__dict__.pop("_kernel_transposed", None)
                if name != "mkl_packed":
                    owner.__dict__.pop("_kernel_packed", None)
    return _linear_kernel(str(name), owner, x, weight, bias)


@functools.cache
def last_level_cache_bytes(caches: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int:
    """The size of the CPU's largest cache, from Linux's description of the first CPU's caches (`caches`);
    `FALLBACK_CACHE_BYTES` where there is none."""
    sizes = []
    for path in caches.glob("index*/size"):
        try:
            text = path.read_text().strip().upper()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            continue
    return max(sizes, default=FALLBACK_CACHE_BYTES)


def _streamed_candidates(
    names: tuple[str, ...], x: Tensor, weight: Tensor, bias: Tensor | None
) -> dict[str, Callable[[], object]]:
    """The candidates of a product whose weight, in the run, comes from memory: each call takes the next of copies
    of the weight that span twice the largest cache (at most `STREAM_SPAN_MAX`), so that no call finds its weight
    cached by the one before. Timed on one weight, MKL's sgemm and oneDNN come out even where in the release
    model's run MKL's takes 1.1-1.9x oneDNN's time (docs/performance.md). A kernel that keeps a copy of the weight
    makes one for every copy first, as it would once for a layer; all are dropped with the candidates."""
    size = weight.numel() * weight.element_size()
    # A weight that alone spans twice the cache leaves it between two calls: it is its own only copy.
    count = max(1, -(-min(2 * last_level_cache_bytes(), STREAM_SPAN_MAX) // max(size, 1)))
    weights = [weight.detach()] + [weight.detach().clone() for _ in range(count - 1)]
    owners = [nn.Module() for _ in weights]  # where a copying kernel keeps each weight's copy

    def turns(name: str) -> Callable[[], object]:
        turn = itertools.count()

        def run() -> object:
            i = next(turn) % count
            return _linear_kernel(name, owners[i], x, weights[i], bias)

        if name in COPYING_KERNELS:
            for _ in range(count):
                run()
        return run

    return {name: turns(name) for name in names}


def _timed_backward(name: str, owner: nn.Module, x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """One forward and backward of a kernel on detached copies (the layer's own gradients stay untouched)."""
    x_, w_, b_ = _leaves(x, weight, bias)
    out = _linear_kernel(name, owner, x_, w_, b_)
    if out.requires_grad:
        out.sum().backward()


class DenseLinear(nn.Linear):
    """A `nn.Linear` (same parameters and state-dict keys) whose products on the CPU run by the kernel measured
    fastest for their class."""

    def forward(self, x: Tensor) -> Tensor:
        rows = x.numel() // max(self.in_features, 1)
        if rows == 0:
            return super().forward(x)
        out = linear_product(self, x.reshape(rows, self.in_features), self.weight, self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


class TemporalConv1d(nn.Conv1d):
    """A `nn.Conv1d` (same parameters and state-dict keys) that can run as one matrix product.

    "unfold": the frames are unfolded into (B * T, C_in * k) rows and multiplied by the (C_out, C_in * k) weight
    with the linear kernel chosen for that product: the same sum in another order; the rows, k times the input's
    size, are made for a few batch rows at a time (`CHUNK_BYTES`). Whether that or torch's direct convolution
    runs is measured per class (docs/performance.md).
    """

    CHUNK_BYTES = 32 * 2**20  # the most unfolded columns held at once (whole batch rows; at least one)

    def forward(self, x: Tensor) -> Tensor:
        if (
            x.device.type != "cpu"
            or _torchs_own()
            or x.dim() != 3
            or self.groups != 1
            or self.dilation != (1,)
            or not isinstance(self.padding, tuple)
            or self.padding_mode != "zeros"
        ):
            return super().forward(x)
        rows = x.shape[0] * ((x.shape[-1] + 2 * int(self.padding[0]) - self.weight.shape[2]) // self.stride[0] + 1)
        return _conv_call(self, "conv", rows, x)

    def _by(self, name: str, x: Tensor) -> Tensor:
        return super().forward(x) if name == "direct" else self._unfolded(x)

    def _run(self, name: str, x: Tensor, grad: bool) -> None:
        if not grad:
            self._unfolded(x) if name == "unfold" else super().forward(x)
            return
        x_, w_, b_ = _leaves(x, self.weight, self.bias)
        out = self._unfolded(x_, w_, b_) if name == "unfold" else self._conv_forward(x_, w_, b_)
        if out.requires_grad:
            out.sum().backward()

    def _unfolded(self, x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
        weight = self.weight if weight is None else weight
        bias = self.bias if weight is self.weight else bias
        c_out, c_in, k = weight.shape
        B, T = x.shape[0], x.shape[2]
        pad, stride = int(self.padding[0]), self.stride[0]
        t_out = (T + 2 * pad - k) // stride + 1
        if t_out < 1:
            return self._conv_forward(x, weight, bias)  # torch's own error names the sizes
        matrix = weight.reshape(c_out, c_in * k)
        # The unfolded columns are k times the input: make them a few rows of the batch at a time.
        rows = max(1, self.CHUNK_BYTES // max(1, t_out * c_in * k * x.element_size()))
        parts = []
        for start in range(0, B, rows):
            part = x[start : start + rows]
            cols = _columns(part, k, pad, stride, t_out)
            parts.append(linear_product(self, cols, matrix, bias).view(part.shape[0], t_out, c_out))
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out.transpose(1, 2)


def _columns(x: Tensor, k: int, pad: int, stride: int, t_out: int) -> Tensor:
    """(B, C, T) -> (B * t_out, C * k) rows of a convolution's product: row b t_out + t, column c k + j holds
    x[b, c, t stride + j - pad] (0 outside the frames), the order of the weight's (C_out, C * k) reshape.

    Made frame-major: the frames, padded, as (B, T + 2 pad, C) rows (a plain copy where x is the model's (B, T, C)
    frames seen as channels), then each tap's frames copied into its column of every channel, k copies whose
    inner loop runs over the C channels (one copy of the (c, t, j) gather has an inner loop of k, five numbers).
    """
    B, C, T = x.shape
    frames = x.transpose(1, 2)  # (B, T, C)
    if k == 1 and pad == 0:
        return frames[:, ::stride].reshape(B * t_out, C)
    padded = x.new_empty(B, T + 2 * pad, C)
    padded[:, :pad] = 0
    padded[:, pad + T :] = 0
    padded[:, pad : pad + T] = frames
    cols = x.new_empty(B, t_out, C, k)
    span = (t_out - 1) * stride + 1
    for j in range(k):
        cols[..., j] = padded[:, j : j + span : stride]
    return cols.view(B * t_out, C * k)


def _conv_call(layer: TemporalConv1d | TransposedConv1d, kind: str, rows: int, x: Tensor) -> Tensor:
    """A convolution's call (`kind` "conv" or "tconv", `rows` of its product) on its class's kernel: forced or pinned,
    chosen, run as a trial's (`choose_in_the_run`: a model that streams its weights), or measured now."""
    name = _forced_conv(layer)
    if name is None:
        grad = _needs_grad(x, layer.weight, layer.bias)
        streamed = not grad and bool(layer.__dict__.get(STREAMED_FLAG))
        key, name = _chosen(kind, _conv_shape(layer), rows, grad, streamed)
        trial = _TRIAL.get() if name is None and streamed else None
        if trial is not None:
            return trial.run(key, functools.partial(layer._by, x=x))
        if name is None:
            name = _choose(key, {n: functools.partial(layer._run, n, x, grad) for n in CONV_KERNELS})
    return layer._by(name, x)


def _conv_shape(layer: nn.Conv1d | nn.ConvTranspose1d) -> tuple[int, ...]:
    """A convolution's class shape: (c_in, c_out, k), and the stride where it is not 1."""
    c_in, c_out = layer.in_channels, layer.out_channels
    k, stride = layer.kernel_size[0], layer.stride[0]
    return (c_in, c_out, k) if stride == 1 else (c_in, c_out, k, stride)


class TransposedConv1d(nn.ConvTranspose1d):
    """A `nn.ConvTranspose1d` (same parameters and state-dict keys) that can run as one matrix product.

    "unfold": every input frame times the (C_in, C_out * k) weight as stored, in one product (no copy of the
    weight), then the k taps of each frame added at their places `stride` apart (`F.fold`): the sums of torch's
    transposed convolution in another order. Whether that or torch's own runs is measured per class ("tconv");
    the product runs the linear kernel measured for its own classes ("taps": the weight is passed as the
    transposed view of a (C_out * k, C_in) matrix, a layout no linear layer of that shape has).
    """

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if (
            x.device.type != "cpu"
            or _torchs_own()
            or x.dim() != 3
            or output_size is not None
            or self.groups != 1
            or self.dilation != (1,)
            or self.output_padding != (0,)
            or not isinstance(self.padding, tuple)
            or self.padding_mode != "zeros"
        ):
            return super().forward(x, output_size)
        return _conv_call(self, "tconv", x.shape[0] * x.shape[2], x)

    def _by(self, name: str, x: Tensor) -> Tensor:
        return super().forward(x) if name == "direct" else self._as_product(x, self.weight, self.bias)

    def _run(self, name: str, x: Tensor, grad: bool) -> None:
        x, w, b = _leaves(x, self.weight, self.bias) if grad else (x, self.weight, self.bias)
        if name == "unfold":
            out = self._as_product(x, w, b)
        else:
            pad = int(self.padding[0])  # a tuple here: forward runs this only then
            out = F.conv_transpose1d(x, w, b, self.stride, pad, self.output_padding, self.groups, self.dilation)
        if grad and out.requires_grad:
            out.sum().backward()

    def _as_product(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        B, c_in, T = x.shape
        _, c_out, k = weight.shape
        stride, pad = self.stride[0], int(self.padding[0])
        length = (T - 1) * stride - 2 * pad + k
        matrix = weight.reshape(c_in, c_out * k).t()  # (C_out * k, C_in): a view
        taps = linear_product(self, x.transpose(1, 2).reshape(B * T, c_in), matrix, None, "taps")
        columns = taps.view(B, T, c_out * k).transpose(1, 2)  # (B, C_out * k, T): channel-major, then tap
        out = F.fold(columns, (1, length), (1, k), padding=(0, pad), stride=(1, stride)).view(B, c_out, length)
        return out if bias is None else out + bias.view(1, c_out, 1)


# -- the convolution blocks' elementwise tail -------------------------------------------------------------------


MISH_CLAMP = 20.0  # above it n / (n + 2) is 1 in float32 (and e^2x would overflow)


def mish_(x: Tensor) -> Tensor:
    """Mish of `x` in place: x tanh(softplus(x)) = x n / (n + 2) with n = e^x (e^x + 2), the exponential taken
    of x clamped at `MISH_CLAMP`. One exponential, where `F.mish` takes an exponential, a logarithm and a tanh;
    within 3e-7 of float64 Mish relative to the value, as `F.mish` is (tests/test_products.py)."""
    e = x.clamp(max=MISH_CLAMP).exp_()
    n = (e + 2).mul_(e)
    return x.mul_(n.div_(n + 2))


def _own_block(block: ConvBlock | AdaGNConvBlock, *inputs: Tensor) -> bool:
    """Whether a block runs as the model's own: off the CPU, where any input or parameter needs a gradient (in
    place would break the backward), under autocast or compilation, or with the block's convolution forced or
    pinned to torch's own ("direct")."""
    if inputs[0].device.type != "cpu" or _torchs_own() or _forced_conv(block.block) == "direct":
        return True
    # The parameters are listed only where gradients are on: the no-grad forward (sampling) skips the walk.
    return torch.is_grad_enabled() and _needs_grad(*inputs, *block.parameters())


class FusedConvBlock(ConvBlock):
    """A `ConvBlock` (same parameters and keys) whose GroupNorm output takes Mish in place (`mish_`); the model's
    own forward where `_own_block` says so."""

    def forward(self, x: Tensor) -> Tensor:
        if _own_block(self, x):
            return super().forward(x)
        return mish_(framewise_group_norm(self.block(x), self.norm))


class FusedAdaGNConvBlock(AdaGNConvBlock):
    """An `AdaGNConvBlock` (same parameters and keys) whose GroupNorm output takes the timestep's scale and shift
    and Mish in place (`mish_`): the same operations in the same order, without their temporaries; the model's own
    forward where `_own_block` says so."""

    def forward(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        if _own_block(self, x, scale, shift):
            return super().forward(x, scale, shift)
        h = framewise_group_norm(self.block(x), self.group_norm)
        return mish_(h.mul_(1 + scale).add_(shift))


def use_cpu_kernels(model: ModuleT) -> ModuleT:
    """Run `model`'s large products through the measured CPU kernels, in place: the attention projections, the
    feed-forward layers and the timestep's products become `DenseLinear`, the temporal convolutions (the blocks',
    the residual 1 x 1 and the down-sampling ones) `TemporalConv1d`, the up-sampling transposed convolutions
    `TransposedConv1d`, and the convolution blocks `FusedConvBlock` and `FusedAdaGNConvBlock` (subclasses that add
    no parameter, so weights, state-dict keys and devices are untouched). Where the weights of these layers, read
    at every step, exceed the CPU's largest cache, so that a step reads each from memory, their products are timed
    that way (`_streamed_candidates`). Returns the model."""
    for module in model.modules():
        if type(module) is ConvBlock:
            module.__class__ = FusedConvBlock
        elif type(module) is AdaGNConvBlock:
            module.__class__ = FusedAdaGNConvBlock
        layers: list[nn.Module]
        if isinstance(module, (SelfAttention, CrossAttention)):
            layers = [module.query, module.key, module.value]
        elif isinstance(module, FFN):
            layers = [module.linear1, module.linear2]
        elif isinstance(module, (AdaGNConvBlock, ConvBlock)):
            layers = [module.block]
        elif isinstance(module, ResidualTemporalBlock):
            layers = [module.residual_conv, *module.time_mlp]  # the timestep's scale and shift: two-row products
        elif isinstance(module, UNet1D):
            layers = list(module.time_mlp)
        elif isinstance(module, (Downsample1d, Upsample1d)):
            layers = [module.conv]
        else:
            continue
        for layer in layers:
            if type(layer) is nn.Linear:
                layer.__class__ = DenseLinear
            elif type(layer) is nn.Conv1d:
                layer.__class__ = TemporalConv1d
            elif type(layer) is nn.ConvTranspose1d:
                layer.__class__ = TransposedConv1d
    streamed = streams_weights(model)
    for layer in _kernel_layers(model):
        layer.__dict__[STREAMED_FLAG] = streamed
    for unet in (m for m in model.modules() if isinstance(m, UNet1D)):
        unet.__dict__[STREAMED_FLAG] = streamed  # its forwards choose their streamed classes in the run
        if not unet.__dict__.get("_chooses_in_the_run"):
            unet.register_forward_pre_hook(_choose_before_forward)
            unet.__dict__["_chooses_in_the_run"] = True
    return model


def _choose_before_forward(unet: nn.Module, args: tuple[Any, ...]) -> None:
    """The U-Net's forward pre-hook (`use_cpu_kernels`) where the model streams its weights: before the first
    forward of each kind (the input's and the text's shapes, the conditional and twin rows, the threads), the
    streamed classes without a kernel (linear products and convolutions) are chosen in the run
    (`choose_in_the_run`), on the same inputs with nothing looking (no hook, no run cache). Not while gradients are
    on, in training, off the CPU, or where every kernel is forced or pinned."""
    if not unet.__dict__.get(STREAMED_FLAG) or len(args) != 4 or _TRIAL.get() is not None:
        return
    x, timesteps, text, call = args
    if torch.is_grad_enabled() or unet.training or x.device.type != "cpu" or _torchs_own() or all(_FORCED.get()):
        return
    kind = (tuple(x.shape), tuple(text.shape), call.n_cond, call.twins, torch.get_num_threads(), _GENERATION[0])
    seen = unet.__dict__.setdefault("_kernel_forwards_seen", set())
    if kind in seen:
        return
    seen.add(kind)
    layers = _kernel_layers(unet)
    convs = [m for m in layers if not isinstance(m, DenseLinear)]
    if all(m.__dict__.get("pinned_linear") for m in layers) and all(m.__dict__.get("pinned_conv") for m in convs):
        return
    quiet = dataclasses.replace(call, hooks=(), explicit=False, text_kv=None)
    choose_in_the_run(lambda: unet.forward(x, timesteps, text, quiet))


def _kernel_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (DenseLinear, TemporalConv1d, TransposedConv1d))]


def kernel_weight_bytes(model: nn.Module) -> int:
    """The bytes of the parameters of `model`'s layers that run through these kernels: what a step reads."""
    params = {id(p): p for layer in _kernel_layers(model) for p in layer.parameters()}
    return sum(p.numel() * p.element_size() for p in params.values())


def streams_weights(model: nn.Module) -> bool:
    """Whether a step of `model` reads its kernels' weights from memory: they exceed the CPU's largest cache, and
    their products are timed so (`_streamed_candidates`)."""
    return kernel_weight_bytes(model) > last_level_cache_bytes()


def describe_kernels(model: nn.Module) -> list[dict[str, Any]]:
    """For every layer of `model` that runs through these kernels: its name, what it is, and the kernel each
    class of its calls ran, with the measured seconds of every candidate (empty if forced or read from disk), and
    the bytes of the weight copy kept beside it (`copy_bytes`: the transposed weight of "blas_nn", the packed one of
    "mkl_packed")."""
    by_kind: dict[tuple[str, tuple[int, ...]], list[KernelChoice]] = {}
    for choice in kernel_choices():
        by_kind.setdefault((choice.kind, choice.shape), []).append(choice)
    table = []
    for name, module in model.named_modules():
        classes: list[tuple[str, tuple[int, ...]]]
        if isinstance(module, DenseLinear):
            classes = [("linear", (module.in_features, module.out_features))]
        elif isinstance(module, TemporalConv1d):
            c_out, c_in, k = module.weight.shape
            classes = [("conv", _conv_shape(module)), ("linear", (c_in * k, c_out))]  # and its unfolded product
        elif isinstance(module, TransposedConv1d):
            c_in, c_out, k = module.weight.shape
            classes = [("tconv", _conv_shape(module)), ("taps", (c_in, c_out * k))]  # and its product
        else:
            continue
        held = module.__dict__.get("_kernel_transposed")
        copy = 0 if held is None else held.value.numel() * held.value.element_size()
        if module.__dict__.get("_kernel_packed") is not None:
            copy += module.weight.numel() * module.weight.element_size()
        for cls in classes:
            table += [
                {"layer": name, **asdict(choice), "key": choice.key, "copy_bytes": copy}
                for choice in by_kind.get(cls, [])
            ]
    return table
