"""Client lifecycle hooks, in a module of their own so that any subsystem can
register one without importing the connection module (which imports
dispatch, which imports the subsystems: a cycle otherwise).
"""

from __future__ import annotations

__all__ = ["CLOSE_HOOKS", "on_client_close"]

# Callables(client) run when a client disconnects: pub/sub, WATCH and blocking
# state register their cleanup here.
CLOSE_HOOKS: list = []


def on_client_close(hook):
    """Register cleanup to run when any client disconnects."""
    CLOSE_HOOKS.append(hook)
    return hook
