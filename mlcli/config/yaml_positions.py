"""Safe YAML loading that remembers where every key and value came from.

PyYAML's `safe_load` forgets positions and silently keeps the last of two duplicate keys. We
compose the node tree ourselves so each validation error can point at `file:line:col`, and so
duplicate keys and non-standard tags (`!!python/object`) are errors rather than surprises.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcli.errors import ConfigError

Path_ = tuple[Any, ...]

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary", "merge")
}


@dataclass
class Located:
    """A loaded document plus the positions (1-based line, column) of its keys and values."""

    data: Any
    source: str
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    value_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    overrides: dict[Path_, str] = field(default_factory=dict)
    files: dict[Path_, str] = field(default_factory=dict)  # paths written in another file (a `base:`)

    def origin(self, path: Path_) -> str | None:
        """Where exactly `path` was written (`--set ...` or `file:line:col`); None for a default."""
        for depth in range(len(path), -1, -1):
            if path[:depth] in self.overrides:
                return f"--set {self.overrides[path[:depth]]}"
        if path in self.value_positions:
            line, col = self.value_positions[path]
            return f"{self.files.get(path, self.source)}:{line}:{col}"
        return None

    def locate(self, path: Path_, prefer_key: bool = False) -> str:
        """Where `path` came from: the `--set` that wrote it, else `file:line:col` of its node."""
        for depth in range(len(path), -1, -1):
            if path[:depth] in self.overrides:
                return f"--set {self.overrides[path[:depth]]}"
        tables = (
            (self.key_positions, self.value_positions) if prefer_key else (self.value_positions, self.key_positions)
        )
        for depth in range(len(path), -1, -1):
            for table in tables:
                if path[:depth] in table:
                    line, col = table[path[:depth]]
                    return f"{self.files.get(path[:depth], self.source)}:{line}:{col}"
        return self.source


# YAML 1.2 floats: PyYAML follows YAML 1.1, where `1e-3` and `1.0e12` are strings (no dot, or no
# exponent sign). With strict typing that would reject the most common way to write a rate.
FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


# YAML 1.2 integers and booleans: in YAML 1.1 `epochs: 010` is 8 (octal), `064` is 52, `1:30` is 90
# (sexagesimal) and `on` / `yes` are true. YAML 1.2's core schema has none of these surprises.
INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_REPLACED = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}


class _Yaml12(yaml.SafeLoader):
    """SafeLoader reading YAML 1.2 integers, floats and booleans; also used to parse `--set` values."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node) -> int:
        value = self.construct_scalar(node)
        if value.startswith(("0o", "0x")):
            return int(value[2:], 8 if value[1] == "o" else 16)
        return int(value, 10)  # `010` is ten

    def construct_yaml_bool(self, node) -> bool:
        value = self.construct_scalar(node)
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{value!r} is not a boolean (write true or false)")
        return value.lower() == "true"


_Yaml12.add_implicit_resolver("tag:yaml.org,2002:int", INT_12, list("-+0123456789"))
_Yaml12.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_12, list("-+0123456789."))
_Yaml12.add_implicit_resolver("tag:yaml.org,2002:bool", BOOL_12, list("tTfF"))
_Yaml12.add_constructor("tag:yaml.org,2002:int", _Yaml12.construct_yaml_int)
_Yaml12.add_constructor("tag:yaml.org,2002:bool", _Yaml12.construct_yaml_bool)
_Yaml12Floats = _Yaml12  # the name `--set` parsing used before


def parse_scalar(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12)


class _TooLarge(Exception):
    pass


MAX_VALUES = 100_000  # a real config has hundreds; an alias bomb has billions
MAX_DEPTH = 64  # nesting of maps and lists; a real config has under ten levels
MAX_BYTES = int(os.environ.get("MLCLI_MAX_CONFIG_BYTES", 1 << 20))  # checked before parsing starts


class _TooDeep(Exception):
    pass


class _AnchorLoader(_Yaml12):
    """SafeLoader that remembers which node each `&anchor` named (the composer forgets), and stops
    composing past MAX_VALUES nodes or MAX_DEPTH levels instead of running out of time or stack."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.anchor_names: dict[int, str] = {}
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent, index):
        anchor = None if self.check_event(yaml.AliasEvent) else getattr(self.peek_event(), "anchor", None)
        self.nodes += 1
        self.depth += 1
        try:
            if self.nodes > MAX_VALUES:
                raise _TooLarge
            if self.depth > MAX_DEPTH:
                raise _TooDeep
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if anchor:
            self.anchor_names[id(node)] = anchor
        return node




def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns composed YAML nodes into plain Python, collecting positions and problems."""

    def __init__(self, source: str, loader: _AnchorLoader):
        self.source = source
        self.loader = loader
        self.doc = Located(data=None, source=source)
        self.problems: list[str] = []
        self.values = 0
        self.expanding: list[yaml.Node] = []  # anchored nodes being expanded, outermost first
        self.culprit: yaml.Node | None = None

    def where(self, node: yaml.Node) -> str:
        line, col = _mark(node)
        return f"{self.source}:{line}:{col}"

    def build(self, node: yaml.Node, path: Path_) -> Any:
        """Expand aliases as plain copies, but stop at MAX_VALUES values: PyYAML shares aliased
        nodes, so 7 levels of 10 aliases are 10 million values to walk (an alias bomb)."""
        self.values += 1
        if self.values > MAX_VALUES:
            self.culprit = self.expanding[0] if self.expanding else None
            raise _TooLarge
        anchored = id(node) in self.loader.anchor_names
        if anchored:
            self.expanding.append(node)
        try:
            return self._build(node, path)
        finally:
            if anchored:
                self.expanding.pop()

    def bomb(self) -> str:
        node = self.culprit
        if node is None:
            return f"{self.source}:1:1: <root>: the document expands to more than {MAX_VALUES:,} values"
        name = self.loader.anchor_names[id(node)]
        return (
            f"{self.where(node)}: anchor &{name}: aliases of it expand to more than {MAX_VALUES:,} values "
            "(an alias bomb?); write the values out or use fewer nested aliases"
        )

    def _build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.value_positions[path] = _mark(node)
        if node.tag not in _SAFE_TAGS:
            self.problems.append(
                f"{self.where(node)}: {_dotted(path)}: tag {node.tag!r} is not allowed "
                "(mlcli loads YAML safely and never runs code from a config)"
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, yaml.YAMLError) as exc:
            tag = node.tag.rsplit(":", 1)[-1]
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            if "integer string conversion" in reason:  # Python's own limit on int("9" * 5000)
                reason = f"{len(node.value)} digits; no setting needs more than a few"
            value = node.value[:60] + ("..." if len(node.value) > 60 else "")
            self.problems.append(f"{self.where(node)}: {_dotted(path)}: {value!r} is not a valid {tag} ({reason})")
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        try:
            self.loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.problems.append(f"{self.where(node)}: {_dotted(path)}: bad `<<` merge: {problem}")
            return {}
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(f"{self.where(key_node)}: {_dotted(path)}: keys must be plain scalars")
                continue
            key = self.loader.construct_object(key_node)
            if key in out:
                first = self.doc.key_positions[path + (key,)]
                self.problems.append(
                    f"{self.where(key_node)}: {_dotted(path + (key,))}: duplicate key "
                    f"(first defined at line {first[0]}); remove one of them"
                )
                continue
            self.doc.key_positions[path + (key,)] = _mark(key_node)
            out[key] = self.build(value_node, path + (key,))
        return out


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def load_located(text: str, source: str) -> Located:
    """Parse `text` (named `source` in messages) safely; raise ConfigError for any problem."""
    if len(text) > MAX_BYTES:
        raise ConfigError([f"{source}: {len(text):,} characters, more than a config needs ({MAX_BYTES:,}); "
                           "set MLCLI_MAX_CONFIG_BYTES to allow more"])  # fmt: skip
    loader = None
    try:
        loader = _AnchorLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        if "\t" in str(problem) or "\\t" in str(problem):
            problem = f"{problem} (YAML forbids tabs for indentation; use spaces)"
        raise ConfigError([f"{where}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError([f"{source}: YAML error: {first}"]) from None
    except _TooLarge:
        raise ConfigError([f"{source}: more than {MAX_VALUES:,} values; a config has hundreds"]) from None
    except _TooDeep:
        raise ConfigError([f"{source}: nested more than {MAX_DEPTH} levels deep; a config has a few"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ConfigError([f"{source}:1:1: the config is empty; it needs at least name, data and model"])
    builder = _Builder(source, loader)
    try:
        data = builder.build(node, ())
    except _TooLarge:
        raise ConfigError([builder.bomb()]) from None
    if builder.problems:
        raise ConfigError(builder.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        line, col = _mark(node)
        raise ConfigError([f"{source}:{line}:{col}: <root>: the config must be a mapping of keys, not {kind}"])
    builder.doc.data = data
    return builder.doc


DATA_SUFFIXES = {".csv", ".npz", ".npy", ".tsv", ".parquet", ".json", ".png", ".jpg", ".jpeg", ".txt", ".keras"}


def load_file(path: str | Path) -> Located:
    """Read a config file; a missing or unreadable file is a user error."""
    p = Path(path)
    if p.is_dir():
        if (p / "config.yaml").is_file():
            raise ConfigError([f"{path}: a run directory; its config is {p / 'config.yaml'} "
                               f"(to continue the run: mlcli train --resume {path})"])  # fmt: skip
        raise ConfigError([f"{path}: a folder, not a config; write a config for its data with `mlcli init {path}`"])
    if not p.is_file():
        raise ConfigError([f"{path}: no such config file"])
    if p.suffix.lower() in DATA_SUFFIXES:
        raise ConfigError([f"{path}: a data file, not a config; write a config for it with `mlcli init {path}`"])
    if str(p.resolve()).startswith(("/proc/", "/sys/", "/dev/")):
        raise ConfigError([f"{path}: not a config file (a system file); give a .yaml file"])
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ConfigError([f"{path}: {p.stat().st_size:,} bytes, more than a config needs ({MAX_BYTES:,}); "
                               "set MLCLI_MAX_CONFIG_BYTES to allow more"])  # fmt: skip
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read config: {exc}"]) from None
    return load_located(text, str(path))
