"""`--param PATH=SPEC`: a search dimension over one config field, checked before any trial runs.

SPEC is `loguniform(a,b)`, `uniform(a,b)`, `int(a,b)` or `choice(x,y,...)`; choices are YAML
values, so `choice(adam, sgd)`, `choice(0.1, 0.5)` and `choice([16], [32, 32])` all work.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mlcli.config.yaml_positions import parse_scalar
from mlcli.errors import UserError

SPEC = re.compile(r"^\s*(loguniform|uniform|int|choice)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Dimension:
    path: str
    kind: str
    args: tuple[Any, ...]

    def suggest(self, trial) -> Any:
        """Optuna's suggestion for this field (parameter name = the dotted path)."""
        if self.kind == "choice":  # Optuna stores plain scalars; lists travel as their JSON text
            picked = trial.suggest_categorical(self.path, [json.dumps(a) for a in self.args])
            return json.loads(picked)
        if self.kind == "int":
            return trial.suggest_int(self.path, *self.args)
        return trial.suggest_float(self.path, *self.args, log=self.kind == "loguniform")

    def extremes(self) -> list[Any]:
        """The values to try against the schema before the sweep starts."""
        return list(self.args)

    def override(self, value: Any) -> str:
        return f"{self.path}={json.dumps(value)}"

    def as_param(self) -> str:
        """The `--param` text that parses back to this dimension."""
        return f"{self.path}={self.kind}({', '.join(json.dumps(a) for a in self.args)})"


def parse_param(text: str, where: str = "--param") -> Dimension:
    """`PATH=SPEC` -> Dimension; anything malformed is exit 2 naming it."""
    path, sep, spec = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UserError(f"{where} {text!r}: write PATH=SPEC, e.g. optimizer.learning_rate=loguniform(1e-4,1e-1)")
    return parse_spec(path, spec, where)


def parse_spec(path: str, spec: str, where: str = "--param") -> Dimension:
    match = SPEC.match(spec)
    if not match:
        raise UserError(
            f"{where} {path}={spec}: SPEC must be loguniform(a,b), uniform(a,b), int(a,b) or choice(x,y,...)"
        )
    kind, inner = match.groups()
    try:
        args = parse_scalar(f"[{inner}]")
    except Exception:  # noqa: BLE001 - any YAML problem is the same user error
        args = None
    if not isinstance(args, list) or not args:
        raise UserError(f"{where} {path}={spec}: cannot read the arguments {inner!r}")
    if kind == "choice":
        try:
            json.dumps(args)
        except (TypeError, ValueError):
            odd = next(a for a in args if not isinstance(a, (str, int, float, bool, list, dict, type(None))))
            raise UserError(f"{where} {path}={spec}: {odd!r} is a {type(odd).__name__}; choices are numbers, "
                            "strings, booleans or lists (quote it to make it a string)") from None  # fmt: skip
        return Dimension(path, kind, tuple(args))
    numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if len(args) != 2 or not numeric or not args[0] < args[1]:
        raise UserError(f"{where} {path}={spec}: needs two numbers, low < high")
    if kind == "int" and not all(isinstance(a, int) for a in args):
        raise UserError(f"{where} {path}={spec}: int() needs two integers")
    if kind == "loguniform" and args[0] <= 0:
        raise UserError(f"{where} {path}={spec}: loguniform needs low > 0")
    return Dimension(path, kind, (args[0], args[1]) if kind == "int" else (float(args[0]), float(args[1])))
