"""An OpenFeature provider (`openfeature-sdk`) over any Vane client.

```python
from openfeature import api
from vane.openfeature import VaneProvider
api.set_provider(VaneProvider(client))
api.get_client().get_boolean_value("new-checkout", False, EvaluationContext("u1", {"plan": "pro"}))
```

The evaluation context becomes a Vane context: its attributes, plus the targeting key under
`targeting_key_attribute` (default `user_id`). Reasons and errors map explicitly:

| Vane reason | OpenFeature reason |
|---|---|
| `rule_match`, `prerequisite_failed` | `TARGETING_MATCH` |
| `rollout` | `SPLIT` |
| `default`, `in_holdout` | `DEFAULT` |
| `disabled`, `outside_window` | `DISABLED` |
| `error` | `ERROR`, with `FLAG_NOT_FOUND` (`not_found`), `PROVIDER_NOT_READY` (`not_ready`), `INVALID_CONTEXT` (`invalid_context`, or a context value Vane cannot take), `GENERAL` (the edge could not be reached) |

A value of the wrong type for the resolver (a string flag asked as a boolean) is
`TYPE_MISMATCH` with the default. The variant is the variation's index as a string; the Vane
reason, rule id and bucket are in `flag_metadata`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, TypeVar, Union

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from vane._native import ContextError, FlagEvaluation

T = TypeVar("T")

REASONS: Mapping[str, Reason] = {
    "rule_match": Reason.TARGETING_MATCH,
    "prerequisite_failed": Reason.TARGETING_MATCH,
    "rollout": Reason.SPLIT,
    "default": Reason.DEFAULT,
    "in_holdout": Reason.DEFAULT,
    "disabled": Reason.DISABLED,
    "outside_window": Reason.DISABLED,
}

ERRORS: Mapping[str, ErrorCode] = {
    "not_found": ErrorCode.FLAG_NOT_FOUND,
    "not_ready": ErrorCode.PROVIDER_NOT_READY,
    "invalid_context": ErrorCode.INVALID_CONTEXT,
}


class Evaluates(Protocol):
    """What the provider needs of a client: VaneClient, AsyncVaneClient and RemoteClient."""

    def evaluate_flag(self, key: str, context: Any, default: Any = None) -> FlagEvaluation: ...


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_object(v: Any) -> bool:
    return isinstance(v, (dict, list))


ObjectValue = Union[Sequence[FlagValueType], Mapping[str, FlagValueType]]


class VaneProvider(AbstractProvider):
    def __init__(self, client: Evaluates, *, targeting_key_attribute: str = "user_id", remote: bool = False) -> None:
        super().__init__()
        self.client = client
        self.targeting_key_attribute = targeting_key_attribute
        #: Evaluations do I/O (RemoteClient): async resolvers run them in a worker thread.
        self.remote = remote

    def get_metadata(self) -> Metadata:
        return Metadata(name="vane")

    def _context(self, evaluation_context: Optional[EvaluationContext]) -> dict[str, Any]:
        if evaluation_context is None:
            return {}
        context = dict(evaluation_context.attributes)
        if evaluation_context.targeting_key is not None:
            context.setdefault(self.targeting_key_attribute, evaluation_context.targeting_key)
        return context

    def _resolve(
        self,
        key: str,
        default: T,
        evaluation_context: Optional[EvaluationContext],
        accepts: Callable[[Any], bool],
        convert: Callable[[Any], T],
    ) -> FlagResolutionDetails[T]:
        try:
            result = self.client.evaluate_flag(key, self._context(evaluation_context), None)
        except ContextError as error:
            return FlagResolutionDetails(default, ErrorCode.INVALID_CONTEXT, str(error), Reason.ERROR)
        metadata: dict[str, Union[bool, int, float, str]] = {"vane_reason": result.reason}
        if result.rule_id is not None:
            metadata["rule_id"] = result.rule_id
        if result.bucket is not None:
            metadata["bucket"] = result.bucket
        if result.reason == "error":
            code = ERRORS.get(result.error or "", ErrorCode.GENERAL)
            return FlagResolutionDetails(
                default, code, f"flag {key!r}: {result.error}", Reason.ERROR, flag_metadata=metadata
            )
        value = result.value
        if not accepts(value):
            return FlagResolutionDetails(
                default,
                ErrorCode.TYPE_MISMATCH,
                f"flag {key!r} has a {type(value).__name__} value",
                Reason.ERROR,
                flag_metadata=metadata,
            )
        variant = None if result.variation is None else str(result.variation)
        return FlagResolutionDetails(
            convert(value), reason=REASONS.get(result.reason, Reason.UNKNOWN), variant=variant, flag_metadata=metadata
        )

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_bool, bool)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_str, str)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_int, int)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_number, float)

    def resolve_object_details(
        self, flag_key: str, default_value: ObjectValue, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[ObjectValue]:
        return self._resolve(flag_key, default_value, evaluation_context, _is_object, lambda v: v)

    async def _run(self, call: Callable[[], T]) -> T:
        if self.remote:
            return await asyncio.to_thread(call)
        return call()  # local evaluation: microseconds, no I/O; fine on the event loop

    async def resolve_boolean_details_async(
        self, flag_key: str, default_value: bool, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[bool]:
        return await self._run(lambda: self.resolve_boolean_details(flag_key, default_value, evaluation_context))

    async def resolve_string_details_async(
        self, flag_key: str, default_value: str, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[str]:
        return await self._run(lambda: self.resolve_string_details(flag_key, default_value, evaluation_context))

    async def resolve_integer_details_async(
        self, flag_key: str, default_value: int, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[int]:
        return await self._run(lambda: self.resolve_integer_details(flag_key, default_value, evaluation_context))

    async def resolve_float_details_async(
        self, flag_key: str, default_value: float, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[float]:
        return await self._run(lambda: self.resolve_float_details(flag_key, default_value, evaluation_context))

    async def resolve_object_details_async(
        self, flag_key: str, default_value: ObjectValue, evaluation_context: Optional[EvaluationContext] = None
    ) -> FlagResolutionDetails[ObjectValue]:
        return await self._run(lambda: self.resolve_object_details(flag_key, default_value, evaluation_context))
