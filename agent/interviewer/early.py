"""Read the goal in two passes so the first question does not wait for MiniLM.

Loading torch and the local embedder takes seconds (7.9 s on a quiet 2-core machine, far more on a busy one),
while the offline interviewer's rules need none of it. `GoalReading` reads the goal with the rules at once
(`quick`) and starts the full reading, similarity pass included, in a background thread; the interview asks its
first question from the quick reading and merges the full one once the person has answered (graphs.interview
.settle). If the person is faster than the load, `wait` (the CLI's spinner) says why they are waiting.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, ContextManager

if TYPE_CHECKING:
    import numpy as np

DIMENSION = 384  # MiniLM's; the value does not matter to a reader that finds nothing similar


class NullEmbedder:
    """Similar to nothing: every vector is zero, so a similarity pass over it finds no match and only the
    rules read. Used for the quick pass, never for retrieval.
    """

    name = "null"
    dimension = DIMENSION

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return one zero vector (DIMENSION float32s) per text."""
        import numpy as np

        return np.zeros((len(texts), DIMENSION), dtype=np.float32)


class GoalReading:
    """The goal read by the rules now and by the full reader in the background."""

    def __init__(
        self, goal: str, reader: Any, quick_reader: Any, wait: Callable[[], ContextManager] = contextlib.nullcontext
    ) -> None:
        self.goal = goal
        self._reader, self._quick_reader, self._wait = reader, quick_reader, wait
        self.quick = quick_reader.extract(goal)
        self._done = threading.Event()
        self._started = False
        self._result: list | None = None
        self._error: BaseException | None = None

    def begin(self) -> None:
        """Start the full reading in the background. The CLI calls this as it shows the first question, not
        before: importing torch in parallel with the graph's own imports would share one GIL and delay that
        question, while the person's reading and typing time is free.
        """
        if not self._started:
            self._started = True
            # A daemon thread: a session that ends early (an error, Ctrl-C) must not wait for torch to load.
            threading.Thread(target=self._run, name="tunewise-goal-reading", daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = self._reader.extract(self.goal)
        except BaseException as exc:  # handed to whoever asks for the result, in the main thread
            self._error = exc
        finally:
            self._done.set()

    def ready(self) -> bool:
        """Tell whether the full reading has finished (or failed)."""
        return self._done.is_set()

    def result(self) -> list:
        """Return the full reading, starting it if need be; wait (showing why) if the embedder is still loading, and
        re-raise the error if the reading failed.
        """
        self.begin()
        if not self._done.is_set():
            with self._wait():
                self._done.wait()
        if self._error is not None:
            raise self._error
        return list(self._result or [])

    def read_quickly(self, text: str, *, focus: str | None = None) -> list:
        """Return what the rules alone read in `text` (an --answer value): no waiting for the embedder."""
        return self._quick_reader.extract(text, focus=focus)


def start(goal: str, reader: Any, wait: Callable[[], ContextManager] = contextlib.nullcontext) -> GoalReading | None:
    """Return a two-pass reading for the offline interviewer (the quick pass done, the full one not yet begun);
    None for a reader that needs no embedder to load (an LLM).
    """
    from agent.interviewer.offline import OfflineInterviewer

    if not isinstance(reader, OfflineInterviewer):
        return None
    # The quick pass reads with the rules alone: the heads need real sentence vectors, not the null embedder's zeros.
    return GoalReading(goal, reader, OfflineInterviewer(NullEmbedder(), heads=None), wait)
