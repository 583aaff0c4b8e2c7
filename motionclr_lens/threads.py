"""How many threads torch's operations should use on a machine others may be using too.

torch starts one intra-op thread per core. When other processes keep some of those cores busy, its threads wait
on each other at every operation's barrier while the scheduler runs someone else: on a 2-core machine with one
busy neighbour, a 4 s motion sampled with 2 threads takes about twice as long as with 1 (docs/performance.md).
`suggested_threads()` counts the cores other processes are using right now (from the kernel's CPU counters over a
short window, Linux) and answers the cores left, at least one; the command line runs with it unless told a number
(`--threads`, or the environment's `MOTIONCLR_LENS_THREADS`). The library itself never changes torch's thread count
behind a caller's back: `using_threads(n)` does it for a block and puts it back.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

__all__ = [
    "THREADS_ENV",
    "busy_cores",
    "others_busy_window",
    "suggested_threads",
    "thread_setting",
    "using_threads",
]

THREADS_ENV = "MOTIONCLR_LENS_THREADS"


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) clock ticks of every core since boot, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [float(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0.0)  # idle and waiting on I/O
    total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return total - idle, total


def _own_ticks() -> float:
    """This process's CPU time in clock ticks (all its threads)."""
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


def others_busy_window() -> Callable[[], float | None]:
    """Start counting; the function returned answers how many cores other processes kept busy since (this
    process's own time taken out), or None where the kernel does not say (not Linux) or no tick has passed."""
    start, own = _cpu_times(), _own_ticks()

    def since() -> float | None:
        end, mine = _cpu_times(), _own_ticks() - own
        if start is None or end is None or end[1] <= start[1]:
            return None
        busy_share = max(0.0, (end[0] - start[0] - mine) / (end[1] - start[1]))
        return busy_share * (os.cpu_count() or 1)

    return since


def busy_cores(window: float = 0.1) -> float | None:
    """How many cores other processes keep busy over the next `window` seconds (this process's own time taken
    out), or None where the kernel does not say (not Linux)."""
    since = others_busy_window()
    time.sleep(window)
    return since()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def suggested_threads(most: int | None = None, window: float = 0.1) -> int:
    """The intra-op threads to run with now: the usable cores other processes leave free (rounded), at least 1
    and at most `most` (default: the usable cores)."""
    usable = _usable_cores()
    most = usable if most is None else max(1, most)
    busy = busy_cores(window)
    if busy is None:
        return min(most, usable)
    return max(1, min(most, round(usable - busy)))


def thread_setting(value: str | None) -> int | None:
    """A thread count as the command line and the environment give it: a positive whole number, or "auto" (or
    nothing: None), which means `suggested_threads()`."""
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"threads must be a whole number >= 1 or 'auto', got {value!r}")
    return threads


@contextlib.contextmanager
def using_threads(threads: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread count at `threads` and put the count back after."""
    import torch

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
