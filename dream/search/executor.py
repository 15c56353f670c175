"""Where searches run: in this process, in a pool of local worker processes, or on a Ray cluster.

One seam for "run this job's items on workers": `open_executor(Workers(...))` gives an `Executor` whose
`start(job)` builds the job's worker once per worker process (`job.build()`: a searcher holding its own
copy of the checkpoint, loaded from a path every worker sees), `submit(key, item)` queues an item,
`wait()` returns the `Outcome`s that finished (in completion order; the caller puts them in its order)
and `close()` stops the workers. Workers only search and return what they found: the caller (the driver)
is the one database writer.

* `Inline`: `--workers 1`, the items run in this process, one by one, as before there were workers.
* `LocalPool`: `--workers N` processes of this machine (forked: they start warm; spawned with CUDA).
  Each holds one item at a time, so a worker that dies (SIGKILL, out of memory) loses only its own
  item, which is run again on a fresh worker (`retries` times) and then reported as failed.
* `RayPool`: `--ray auto|ADDRESS`, one Ray task per item (1 CPU each) on a running cluster (ADDRESS,
  or `auto`: the cluster `ray start` runs on this machine, else a new local one). The job travels once
  through Ray's object store and is built once per Ray worker process; Ray runs a task whose worker died
  again (`retries` times). Ray is an optional extra (`pip install -e '.[cluster]'`), imported only here
  and only when `--ray` is given; without it, or with an address where no cluster answers, `--ray` is a
  `UsageError` (one line, exit 2).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from logo.cli_errors import UsageError, int_range

#: a worker that died running an item gets it again this many times before the item is reported failed
RETRIES = 2


class WorkerError(RuntimeError):
    """A worker could not start (its job failed to build: a checkpoint it cannot load, ...)."""


class Job(Protocol):
    """What a worker process builds once, then calls for every item (picklable: it travels to workers)."""

    def build(self) -> Callable[[Any], Any]:
        ...


@dataclass
class Outcome:
    """One finished item: its value, or `error` (it raised, or its worker died `attempts` times)."""
    key: Any
    value: Any = None
    error: str | None = None
    attempts: int = 1             # runs it took (more than 1: a worker died running it)
    run_s: float = 0.0            # seconds inside the worker's call
    wall_s: float = 0.0           # seconds from submit to the result being back here
    worker: str = ""              # which worker ran it (process id, Ray node)

    @property
    def ok(self) -> bool:
        return self.error is None


# ---- the flags ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workers:
    """Where the searches run: `workers` processes of this machine, or a Ray cluster (`ray`)."""
    workers: int | None = None    # None: every core (a Ray cluster: every CPU it has)
    ray: str | None = None        # None: this machine; "auto" or an address: Ray

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser, local_default: int | None = None,
                      what: str = "searches") -> None:
        """--workers and --ray; `local_default`: the workers of this machine without --workers (None: every
        core); with --ray the default is every CPU of the cluster."""
        here = "every core" if local_default is None else str(local_default)
        parser.add_argument("--workers", type=int_range(1, 4096), default=None,
                            help=f"{what} at once, each in its own process (default: {here}; 1: in this process; "
                            "with --ray: at most this many Ray tasks at once, default every CPU of the cluster)")
        parser.add_argument("--ray", metavar="auto|ADDRESS", default=None,
                            help=f"run the {what} as Ray tasks: on the cluster at ADDRESS (host:port of "
                            "`ray start --head`), or with auto on the cluster started on this machine, else a "
                            "new local one (needs the cluster extra: pip install -e '.[cluster]')")

    @classmethod
    def from_args(cls, args: argparse.Namespace, local_default: int | None = None) -> "Workers":
        """The flags of `add_arguments` (with the same `local_default`)."""
        ray = getattr(args, "ray", None) or None
        workers = getattr(args, "workers", None)
        return cls(workers if workers or ray else local_default, ray)

    def to_argv(self) -> list[str]:
        """These settings as flags, for a child command (`logo run` starts them)."""
        return ((["--workers", str(self.workers)] if self.workers else [])
                + (["--ray", self.ray] if self.ray else []))

    def resolved(self) -> int:
        """How many local workers: the number given, or every core."""
        return max(1, self.workers or os.cpu_count() or 1)


def open_executor(workers: Workers, *, device: str = "cpu", retries: int = RETRIES) -> "Executor":
    """The executor these settings ask for (not started). `--ray` is checked here: a `UsageError` if Ray is
    not installed or nothing answers at the address, before any work is done."""
    if workers.ray:
        return RayPool(workers.ray, workers.workers, retries=retries)
    n = workers.resolved()
    if n == 1:
        return Inline()
    return LocalPool(n, start_method=_start_method(device), retries=retries)


def _start_method(device: str) -> str:
    """fork: workers start with this process's modules and compiled code; CUDA cannot be forked."""
    method = os.environ.get("LOGO_START_METHOD")
    if method:
        return method
    return "spawn" if str(device).startswith("cuda") else "fork"


class Executor:
    """The seam; see the module docstring."""
    kind = "executor"
    workers = 1                   # items running at once

    def start(self, job: Job, local: Callable | None = None) -> "Executor":
        """Build the workers' job (`local`: an already-built callable this process may use instead)."""
        raise NotImplementedError

    def submit(self, key, item) -> None:
        raise NotImplementedError

    @property
    def pending(self) -> int:
        """Items submitted whose outcome has not been returned by `wait` yet."""
        raise NotImplementedError

    @property
    def free(self) -> int:
        """How many more items would start running now."""
        return max(0, self.workers - self.pending)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """The outcomes that finished: at least one unless nothing is pending or `timeout` passed."""
        raise NotImplementedError

    def fit(self, n_items: int) -> "Executor":
        """An executor for `n_items` items (not started): no more local workers than items."""
        return self

    def interrupt(self) -> None:
        """Ask running items to stop early (their workers' searches end at their next round and return)."""

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.workers} {self.kind} worker{'s' * (self.workers != 1)}"

    def map(self, items: Iterable[tuple[Any, Any]], ahead: int = 0) -> Iterator[Outcome]:
        """Run every (key, item), keeping every worker busy (and `ahead` more queued); yields outcomes in
        completion order. Items are drawn from `items` only when a worker is about to be free."""
        items = iter(items)
        exhausted = False
        while True:
            while not exhausted and self.pending < self.workers + ahead:
                nxt = next(items, None)
                if nxt is None:
                    exhausted = True
                    break
                self.submit(*nxt)
            if not self.pending:
                return
            yield from self.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- in this process ---------------------------------------------------------------------------------

class Inline(Executor):
    """`--workers 1`: every item runs in this process when `wait` is called, one at a time."""
    kind = "in-process"

    def __init__(self):
        self.fn = None
        self.queue: deque = deque()

    def start(self, job: Job, local: Callable | None = None) -> "Inline":
        self.fn = local if local is not None else job.build()
        return self

    def submit(self, key, item) -> None:
        self.queue.append((key, item, time.perf_counter()))

    @property
    def pending(self) -> int:
        return len(self.queue)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if not self.queue:
            return []
        key, item, t_submit = self.queue.popleft()
        t = time.perf_counter()
        try:
            value, error = self.fn(item), None
        except Exception as e:  # noqa: BLE001 - one failing item must not end the others
            value, error = None, f"{type(e).__name__}: {e}"
        now = time.perf_counter()
        return [Outcome(key, value, error, 1, now - t, now - t_submit, f"pid {os.getpid()}")]

    def describe(self) -> str:
        return "in this process"


# ---- local worker processes ------------------------------------------------------------------------

_stop_requested = False


def stop_requested() -> bool:
    """In a worker process: whether it was asked to stop (SIGINT/SIGTERM); the search ends at its next round."""
    return _stop_requested


def _on_stop_signal(*_):
    global _stop_requested
    _stop_requested = True


def _worker_main(conn, job: Job) -> None:
    """A local worker: build the job, then run the items the driver sends until it sends None or goes away."""
    signal.signal(signal.SIGINT, _on_stop_signal)     # finish (early) and return the item, like dream itself
    signal.signal(signal.SIGTERM, _on_stop_signal)
    try:
        fn = job.build()
    except BaseException as e:  # noqa: BLE001 - reported to the driver, which stops the run with it
        conn.send(("start-failed", None, f"{type(e).__name__}: {e}", 0.0))
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):          # the driver is gone
            return
        if msg is None:
            return
        key, item = msg
        t = time.perf_counter()
        try:
            reply = ("done", key, fn(item), time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001 - this item failed; the worker goes on
            reply = ("error", key, f"{type(e).__name__}: {e}", time.perf_counter() - t)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class _Slot:
    """One worker process and the item it holds."""

    def __init__(self, ctx, job: Job):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, job), daemon=True)
        self.proc.start()
        child.close()
        self.key = None               # the key of the item it runs (None: idle)
        self.item = None
        self.attempts = 0
        self.t_submit = 0.0

    @property
    def busy(self) -> bool:
        return self.key is not None

    def send(self, key, item, attempts: int, t_submit: float) -> bool:
        self.key, self.item, self.attempts, self.t_submit = key, item, attempts, t_submit
        try:
            self.conn.send((key, item))
            return True
        except (BrokenPipeError, OSError):      # died before it got the item: the sentinel tells
            return False

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)             # an idle worker ends at once; a busy one after its item
        except (BrokenPipeError, OSError):
            pass

    def stop(self, deadline: float) -> None:
        self.proc.join(max(0.0, deadline - time.monotonic()))
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class LocalPool(Executor):
    """N worker processes of this machine; each holds one item at a time (see the module docstring)."""
    kind = "local"

    def __init__(self, workers: int, start_method: str = "fork", retries: int = RETRIES):
        import multiprocessing as mp
        self.workers = workers
        self.ctx = mp.get_context(start_method)
        self.retries = retries
        self.job = None
        self.slots: list[_Slot] = []
        self.queue: deque = deque()        # (key, item, attempts, t_submit) not yet on a worker
        self.n_pending = 0
        self.deaths = 0

    def start(self, job: Job, local: Callable | None = None) -> "LocalPool":
        self.job = job
        self.slots = [_Slot(self.ctx, job) for _ in range(self.workers)]
        return self

    def fit(self, n_items: int) -> Executor:
        if self.slots:
            return self
        if n_items <= 1:
            return Inline()
        self.workers = min(self.workers, n_items)
        return self

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots]

    def submit(self, key, item) -> None:
        self.queue.append((key, item, 1, time.perf_counter()))
        self.n_pending += 1
        self._dispatch()

    @property
    def pending(self) -> int:
        return self.n_pending

    def _dispatch(self) -> None:
        for slot in self.slots:
            if not self.queue:
                return
            if not slot.busy and slot.proc.is_alive():
                slot.send(*self.queue.popleft())

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        from multiprocessing.connection import wait
        if not self.n_pending:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._dispatch()
            ready = set(wait([s.conn for s in self.slots] + [s.proc.sentinel for s in self.slots],
                             None if deadline is None else max(0.0, deadline - time.monotonic())))
            out = []
            for i, slot in enumerate(self.slots):
                while slot.conn in ready or slot.proc.sentinel in ready:
                    got = self._receive(slot)
                    if got is None:                        # the worker died
                        out.extend(self._replace(i))
                        break
                    if got is not True:
                        out.append(got)
                    if not slot.conn.poll():
                        break
            if out:
                self.n_pending -= len(out)
                self._dispatch()
                return out
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def _receive(self, slot: _Slot):
        """An Outcome from the slot's worker; True: nothing for us (yet); None: the worker is dead."""
        try:
            if not slot.conn.poll():
                return True if slot.proc.is_alive() else None
            status, key, value, run_s = slot.conn.recv()
        except (EOFError, OSError):
            slot.proc.join(1.0)
            return None
        if status == "start-failed":
            self.close()
            raise WorkerError(f"a worker could not start: {value}")
        outcome = Outcome(key, value if status == "done" else None, value if status == "error" else None,
                          slot.attempts, run_s, time.perf_counter() - slot.t_submit, f"pid {slot.proc.pid}")
        slot.key = slot.item = None
        return outcome

    def _replace(self, i: int) -> list[Outcome]:
        """Start a fresh worker in place of dead slot i; its item runs again or, out of retries, fails."""
        slot = self.slots[i]
        slot.proc.join(1.0)
        code = slot.proc.exitcode
        how = f"signal {-code} ({signal.Signals(-code).name})" if code is not None and code < 0 else f"exit {code}"
        self.deaths += 1
        try:
            slot.conn.close()
        except OSError:
            pass
        self.slots[i] = _Slot(self.ctx, self.job)
        if not slot.busy:
            return []
        if slot.attempts <= self.retries:
            self.queue.appendleft((slot.key, slot.item, slot.attempts + 1, slot.t_submit))
            return []
        return [Outcome(slot.key, None, f"its worker process died {slot.attempts} times (last: {how})",
                        slot.attempts, 0.0, time.perf_counter() - slot.t_submit, f"pid {slot.proc.pid}")]

    def interrupt(self) -> None:
        for slot in self.slots:
            if slot.busy and slot.proc.is_alive():
                try:
                    os.kill(slot.proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass

    def close(self, grace: float = 5.0) -> None:
        """Stop the workers: idle ones at once, busy ones (an interrupted run) after `grace` seconds."""
        slots, self.slots = self.slots, []
        for slot in slots:
            slot.ask_to_stop()
        deadline = time.monotonic() + grace
        for slot in slots:
            slot.stop(deadline)


# ---- Ray ---------------------------------------------------------------------------------------------

_built: dict = {}          # in a Ray worker process: job key -> built callable (a job is built once per process)


def worker_task(job: Job, item):
    """The Ray task: build the job once in this worker process, then run one item.
    Returns ("done", value, seconds) or ("start-failed", message, 0)."""
    key = job.key() if hasattr(job, "key") else repr(job)
    fn = _built.get(key)
    if fn is None:
        try:
            fn = job.build()
        except Exception as e:  # noqa: BLE001 - the driver stops the run with this message
            return ("start-failed", f"{type(e).__name__}: {e}", 0.0)
        _built.clear()                         # one job at a time per worker process
        _built[key] = fn
    t = time.perf_counter()
    value = fn(item)
    return ("done", value, time.perf_counter() - t)


def import_ray():
    """The `ray` module, or a UsageError saying how to get it."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray: Ray is not installed (it is the cluster extra: pip install -e '.[cluster]', "
                         "or pip install 'ray==2.60.0')") from None
    return ray


def check_address(address: str, timeout: float = 5.0) -> None:
    """A UsageError unless something accepts connections at ADDRESS (host:port, or ray://host:port); Ray
    itself would retry an unreachable address for minutes."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--ray {address}: not auto and not an address HOST:PORT (the head node's, from "
                         "`ray start --head`)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        raise UsageError(f"--ray {address}: no Ray cluster answers there ({why}); start one with "
                         "`ray start --head` on that machine, or use --ray auto") from None


def _connect_problem(e: BaseException) -> str:
    """What went wrong connecting to a cluster, in words (Ray's own message is a page of retries)."""
    said = f"{e} {e.__cause__ or ''}"
    if "InvalidAuthToken" in said or "AuthenticationError" in said or "authentication" in said.lower():
        return ("the cluster there uses token authentication: set RAY_AUTH_MODE=token and give this machine the "
                "cluster's token (the head node's ~/.ray/auth_token, or RAY_AUTH_TOKEN)")
    return f"cannot use the Ray cluster there: {str(e).splitlines()[0] if str(e) else type(e).__name__}"


class RayPool(Executor):
    """Items as Ray tasks (see the module docstring)."""
    kind = "Ray"

    def __init__(self, address: str, workers: int | None = None, retries: int = RETRIES):
        self.ray = import_ray()                      # before any work: one clear line without Ray
        self.address = address
        if address != "auto":
            check_address(address)
        self.max_workers = workers
        self.retries = retries
        self.refs: dict = {}                         # ObjectRef -> (key, t_submit)
        self.connected_here = False
        self.workers = workers or 1

    def start(self, job: Job, local: Callable | None = None) -> "RayPool":
        import logging
        ray = self.ray
        if not ray.is_initialized():
            try:
                ray.init(address=None if self.address == "auto" else self.address, logging_level=logging.WARNING,
                         include_dashboard=False, log_to_driver=True)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise UsageError(f"--ray {self.address}: {_connect_problem(e)}") from None
            self.connected_here = True
        self.cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self.max_workers or max(1, self.cpus)
        self.where = ray.get_runtime_context().gcs_address
        self.job_ref = ray.put(job)                  # the job travels once, not once per item
        self.task = ray.remote(num_cpus=1, max_retries=self.retries)(worker_task)
        return self

    def submit(self, key, item) -> None:
        self.refs[self.task.remote(self.job_ref, item)] = (key, time.perf_counter())

    @property
    def pending(self) -> int:
        return len(self.refs)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        ray = self.ray
        if not self.refs:
            return []
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if not ready:
            return []
        more, _ = ray.wait([r for r in self.refs if r not in ready], num_returns=len(self.refs) - len(ready),
                           timeout=0)
        out = []
        for ref in ready + more:
            key, t_submit = self.refs.pop(ref)
            try:
                status, value, run_s = ray.get(ref)
            except ray.exceptions.RayTaskError as e:            # the item raised
                cause = e.cause if getattr(e, "cause", None) is not None else e
                out.append(Outcome(key, None, f"{type(cause).__name__}: {cause}", 1, 0.0,
                                   time.perf_counter() - t_submit, "ray"))
                continue
            except ray.exceptions.RayError as e:               # its worker died more than `retries` times
                out.append(Outcome(key, None, f"its Ray worker died {self.retries + 1} times "
                                   f"({type(e).__name__})", self.retries + 1, 0.0,
                                   time.perf_counter() - t_submit, "ray"))
                continue
            if status == "start-failed":
                self.close()
                raise WorkerError(f"a Ray worker could not start: {value}")
            out.append(Outcome(key, value, None, 1, run_s, time.perf_counter() - t_submit, "ray"))
        return out

    def close(self) -> None:
        ray = self.ray
        for ref in list(self.refs):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone
                pass
        self.refs.clear()
        if self.connected_here and ray.is_initialized():
            ray.shutdown()
            self.connected_here = False

    def describe(self) -> str:
        where = getattr(self, "where", None)
        if where is None:
            return f"Ray tasks on {'a local Ray cluster' if self.address == 'auto' else self.address}"
        return (f"{self.workers} Ray task{'s' * (self.workers != 1)} at once on the Ray cluster at {where} "
                f"({self.cpus} CPUs)")
