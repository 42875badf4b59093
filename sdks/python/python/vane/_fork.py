"""Fork safety: a forked child (gunicorn, uWSGI pre-fork workers) inherits the clients but not
their threads or connections. Every client registers here; after a fork the child gives each
one fresh locks and connections and restarts its threads."""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def _after_fork_in_child(self) -> None: ...


_clients: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(client: ForkAware) -> None:
    _clients.add(client)


def _reinit_children() -> None:
    for client in list(_clients):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_children)
