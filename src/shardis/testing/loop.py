"""A stand-in for the event loop in in-process tests: ``call_soon`` only, run pass by pass.

The node defers work to the end of an event-loop pass (replies in
``Node.flush_pending_writes``, AOF writes, resumed clients), so an
in-process test needs a loop to end passes with -- and wants to end them
itself, to assert what has and has not happened before the end of a pass.
"""

from __future__ import annotations

__all__ = ["PassLoop"]


class PassLoop:
    def __init__(self):
        self.ready: list = []

    def call_soon(self, callback, *args):
        self.ready.append((callback, args))

    def run_pass(self) -> None:
        """Run what was scheduled before this call (what it schedules waits for the next pass)."""
        ready, self.ready = self.ready, []
        for callback, args in ready:
            callback(*args)

    def run(self, max_passes: int = 100) -> None:
        """Run passes until nothing is scheduled."""
        for _ in range(max_passes):
            if not self.ready:
                return
            self.run_pass()
        raise AssertionError("the loop does not settle")
