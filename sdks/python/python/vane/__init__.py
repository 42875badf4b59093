"""Vane's Python SDK: flags and experiments evaluated in-process by Vane's own engine.

>>> import vane
>>> client = vane.VaneClient(url="http://127.0.0.1:8787", server_key="vane_server_...")
>>> client.evaluate_flag("new-checkout", {"user_id": "u1"}).value
"""

from vane._native import (
    MAX_CONTEXT_DEPTH,
    Assignment,
    Context,
    ContextError,
    Engine,
    Evaluation,
    FlagEvaluation,
    SnapshotError,
    bucket,
    hash_unit,
    normalize_context,
)

from vane.aio import AsyncVaneClient
from vane.client import VaneClient
from vane.remote import RemoteClient

__all__ = [
    "AsyncVaneClient",
    "RemoteClient",
    "VaneClient",
    "MAX_CONTEXT_DEPTH",
    "Assignment",
    "Context",
    "ContextError",
    "Engine",
    "Evaluation",
    "FlagEvaluation",
    "SnapshotError",
    "bucket",
    "hash_unit",
    "normalize_context",
]
__version__ = "0.1.0"
