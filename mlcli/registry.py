"""Tag -> builder tables filled by a decorator, so adding a model family or data source is one module."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class Registry:
    """`@registry.register("tag")` on a builder; `registry.get(tag)` says what exists when it misses."""

    def __init__(self, what: str):
        self.what = what
        self.entries: dict[str, Callable] = {}

    def register(self, tag: str) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            if tag in self.entries:
                raise ValueError(f"{self.what} {tag!r} is registered twice")
            self.entries[tag] = fn
            return fn

        return decorate

    def get(self, tag: str) -> Callable:
        try:
            return self.entries[tag]
        except KeyError:
            raise KeyError(
                f"no {self.what} registered for {tag!r} (known: {', '.join(sorted(self.entries))}); "
                f"add a module with @register({tag!r}) and import it in its package"
            ) from None
