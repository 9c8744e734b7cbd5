"""Scan a byte range of a file in a forked child, and stream its result back through a pipe.

A ProcessPoolExecutor pickles the child's whole result and the parent unpickles it next to its own copy: on a 1 GB
file that held ~100 MB of per-example arrays twice. Here the child pickles only its totals and issues, then writes
its arrays raw; the parent appends them to its own arrays in place.
"""

from __future__ import annotations

import os
import pickle
import signal
from array import array
from typing import BinaryIO

from tools.dataset.scan import EXAMPLE_ARRAYS, MINHASHES, Scan, ScanConfig, scan_range
from tools.errors import TunewiseError

_ARRAYS = (("ex_minhash", "I"),) + EXAMPLE_ARRAYS  # the sketch first: its room depends on the rows before the merge
_SKIP_CHUNK = 1 << 20


class ForkedScan:
    """A child process scanning [start, end) of a file; `merge_into` waits for it and joins its result."""

    def __init__(self, pid: int, fd: int, start: int) -> None:
        self.pid, self.fd, self.offset = pid, fd, start
        self.done = False

    @classmethod
    def start(cls, path: str, start: int, end: int, cfg: ScanConfig) -> "ForkedScan":
        """Fork a child that scans [start, end) of `path` and writes its result to a pipe the parent reads."""
        # The caller has imported numpy and loaded the encoding: a child must not import or download anything,
        # since a lock held by another thread at fork time would never be released in the child.
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns, never runs the parent's exit handlers
            status = 0
            try:
                os.close(read_fd)
                with os.fdopen(write_fd, "wb") as out:
                    try:
                        scan = scan_range(path, start, end, cfg)
                    except BaseException as exc:  # noqa: BLE001 - reported by the parent as one line
                        pickle.dump(("error", f"{type(exc).__name__}: {exc}"), out)
                    else:
                        _send(scan, out)
            except BaseException:  # noqa: BLE001 - the parent sees the missing result
                status = 1
            finally:
                os._exit(status)
        os.close(write_fd)
        return cls(pid, read_fd, start)

    def merge_into(self, merged: Scan, near_dup_limit: int) -> None:
        """Read the child's result into `merged`, after its ranges: line numbers shifted, sketches up to the limit.

        Raises TunewiseError when the child failed or died before sending its result.
        """
        import numpy as np

        try:
            with os.fdopen(self.fd, "rb") as inp:
                self.fd = -1
                try:
                    message = pickle.load(inp)
                except EOFError:
                    message = ("error", self._death())
                if message[0] == "error":
                    raise TunewiseError(
                        f"scanning the file from byte {self.offset:,} failed ({message[1]})",
                        hint="run it again; if it fails the same way, report it with the file's first lines",
                    )
                _, other, lengths = message
                offset, room = merged.lines, merged.sketch_room(near_dup_limit)
                merged.merge_totals(other, offset)
                for (name, typecode), n in zip(_ARRAYS, lengths):
                    target = getattr(merged, name)
                    if name == "ex_line":
                        part = array(typecode)
                        part.fromfile(inp, n)
                        target.frombytes((np.frombuffer(part, dtype=np.int64) + offset).tobytes())
                    elif name == "ex_minhash":
                        keep = min(n, MINHASHES * room)
                        target.fromfile(inp, keep)
                        _skip(inp, (n - keep) * target.itemsize)
                    else:
                        target.fromfile(inp, n)
                self.done = True
        except EOFError:
            raise TunewiseError(
                f"scanning the file from byte {self.offset:,} failed ({self._death()})",
                hint="run it again; if the machine ran out of memory, free some first",
            ) from None
        finally:
            self.close()

    def _death(self) -> str:
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.WIFSIGNALED(status):
            return f"its process was killed by signal {os.WTERMSIG(status)}"
        return f"its process exited with status {os.waitstatus_to_exitcode(status)} before sending a result"

    def close(self) -> None:
        """Stop and reap the child if it is still running (the parent failed or was interrupted)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid:
            if not self.done:
                try:
                    os.kill(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def _send(scan: Scan, out: BinaryIO) -> None:
    arrays = [getattr(scan, name) for name, _ in _ARRAYS]
    for name, typecode in _ARRAYS:
        setattr(scan, name, array(typecode))
    pickle.dump(("ok", scan, [len(a) for a in arrays]), out, protocol=pickle.HIGHEST_PROTOCOL)
    for arr in arrays:
        arr.tofile(out)


def _skip(inp: BinaryIO, nbytes: int) -> None:
    while nbytes > 0:
        got = len(inp.read(min(nbytes, _SKIP_CHUNK)))
        if not got:
            raise EOFError
        nbytes -= got
