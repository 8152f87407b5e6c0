"""Run one CPU-heavy, pure job in a forked child while this process does other work (sync: the render
during the writes; render: the authoritative records while the zones are rendered).

I/O (fork, a pipe, waitpid). A thread would share the GIL with the writer threads, and a spawned process
would need the merge result pickled (more CPU than the render itself); a forked child inherits the job's
inputs copy-on-write. The child runs only the job (which must not use sockets or locks other threads
may hold), sends its pickled result back and leaves with os._exit. Where fork is not used (not Linux)
or the child fails, `result()` runs the job in this process: the work is never skipped.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# fork() of a process with threads is well defined on Linux (only the calling thread survives); the
# job touches no lock another thread could hold. Elsewhere (macOS system frameworks) it is not.
FORK_AVAILABLE = sys.platform == "linux" and hasattr(os, "fork")


class Forked(Generic[T]):
    """A job running in a forked child (or, without fork, deferred to `result()`)."""

    def __init__(self, job: Callable[[], T], *, fork: bool = FORK_AVAILABLE) -> None:
        self._job = job
        self._pid = 0
        self._fd = -1
        self.cpu_seconds = 0.0  # CPU time of the child (0 when the job ran in this process)
        self.in_child = False  # a child is running the job now
        self.ran_in_child = False  # the result came from a child
        if fork:
            self._fork()

    def _fork(self) -> None:
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:
            log.warning("cannot create a pipe for a background job (%s); it runs in-process", exc)
            return
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.warning("cannot fork a background job (%s); it runs in-process", exc)
            return
        if pid == 0:  # the child: run the job, report, leave without running any of the parent's cleanup
            os.close(read_fd)
            self._child(write_fd)
        os.close(write_fd)
        self._pid, self._fd, self.in_child = pid, read_fd, True

    def _child(self, fd: int) -> None:
        code = 0
        try:
            payload = pickle.dumps(("ok", self._job()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # everything goes back to the parent, which runs the job itself
            payload = pickle.dumps(("error", traceback.format_exc()), protocol=pickle.HIGHEST_PROTOCOL)
            code = 1
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os._exit(code)

    def result(self) -> T:
        """The job's result: from the child when it succeeded, else computed here (logged). Call once."""
        if not self.in_child:
            return self._run_here()
        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            self._fd = -1
            _, status, usage = os.wait4(self._pid, 0)
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
            self.in_child = False
        try:
            kind, value = pickle.loads(b"".join(chunks))
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            log.warning("background job exited with status %s without a result (%s); running it in-process",
                        status, exc)
            return self._run_here()
        if kind != "ok":
            log.warning("background job failed; running it in-process:\n%s", value)
            return self._run_here()
        self.ran_in_child = True
        done: T = value
        return done

    def discard(self) -> None:
        """Wait for a child whose result is not wanted (the caller failed); nothing runs here."""
        if self.in_child and self._fd >= 0:
            os.close(self._fd)  # the child's write fails or completes; it exits either way
            self._fd = -1
            os.waitpid(self._pid, 0)
            self.in_child = False

    def _run_here(self) -> T:
        return self._job()
