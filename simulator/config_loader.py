"""Generic TOML <-> frozen-dataclass conversion with errors that name the key path.

:func:`from_dict` walks a dataclass's field types (``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, ``tuple[...]``, nested dataclasses, ``dict[str, SomeDataclass]`` and
``X | None``) and builds the tree, rejecting unknown keys, wrong types (a bool is not an
int), and missing required keys. Range rules live in each dataclass's ``__post_init__``,
which raises :class:`~simulator.errors.ConfigError` with a message that starts with the
field name (``"n_users == -3, must be > 0"``); the loader prefixes the dotted path and
appends the file, giving ``world.n_users == -3, must be > 0 (in configs/x.toml)``. A field
whose type check should say more than "must be one of ..." carries its own rule in its
metadata (``field(metadata={"rule": fn})``, ``fn(value) -> "must be ..."``).

:func:`to_toml` writes a dataclass tree back as TOML (``tomllib`` only reads), so a run
directory keeps its resolved config, seed included.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from simulator.errors import ConfigError

T = TypeVar("T")


def _where(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str, source: str | None) -> Any:
    """Convert one TOML value to the annotated type ``tp`` or raise a ConfigError."""
    origin = get_origin(tp)
    bad = ConfigError(
        f"{path} == {value!r}, must be of type {_type_name(tp)}, "
        f"got {type(value).__name__}{_where(source)}"
    )
    if tp is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path, source)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        allowed = get_args(tp)
        # bool == int in Python, so compare types too: true must not match 1.
        if any(type(value) is type(a) and value == a for a in allowed):
            return value
        raise ConfigError(
            f"{path} == {value!r}, must be one of {', '.join(repr(a) for a in allowed)}"
            f"{_where(source)}"
        )
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if origin is tuple:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise bad
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]", source) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(
                f"{path} == {value!r}, must have {len(args)} elements{_where(source)}"
            )
        return tuple(
            _convert(a, v, f"{path}[{i}]", source)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        if key_tp is not str or not isinstance(value, Mapping):
            raise bad
        return {k: _convert(val_tp, v, _join(path, k), source) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} == {value!r}, must be a table ([{path}]){_where(source)}")
        return from_dict(tp, value, path, source)
    raise TypeError(f"config field {path} has unsupported type {tp!r}")  # programming error


def from_dict(
    cls: type[T], data: Mapping[str, Any], path_prefix: str = "", source: str | None = None
) -> T:
    """Build the frozen dataclass ``cls`` from a TOML table.

    Args:
        cls: A dataclass type whose fields carry supported annotations.
        data: The table (nested mappings for nested dataclasses).
        path_prefix: Dotted path of ``data`` in the whole file, e.g. ``"world.users"``.
        source: File name for messages (``None`` to leave it out).

    Returns:
        The validated instance.

    Raises:
        ConfigError: unknown or missing key, wrong type, or a rule of ``cls`` broken; the
            message names the dotted key path, the value and the rule.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_join(path_prefix, unknown[0])} is an unknown key, allowed keys in "
            f"[{path_prefix or 'top level'}] are {', '.join(sorted(fields))}{_where(source)}"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        key_path = _join(path_prefix, name)
        if name not in data:
            no_default = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            if no_default:
                raise ConfigError(f"{key_path} is missing, it is required{_where(source)}")
            continue
        try:
            kwargs[name] = _convert(hints[name], data[name], key_path, source)
        except ConfigError:
            # A field may state its own rule (e.g. why a value is refused) in its metadata.
            rule = field.metadata.get("rule")
            if rule is None:
                raise
            raise ConfigError(
                f"{key_path} == {data[name]!r}, {rule(data[name])}{_where(source)}"
            ) from None
    try:
        return cls(**kwargs)
    except ConfigError as err:
        # Rules in __post_init__ start their message with the field name; add the path.
        msg = str(err)
        if path_prefix and not msg.startswith(path_prefix + "."):
            msg = f"{path_prefix}.{msg}"
        if source and f"(in {source})" not in msg:
            msg += _where(source)
        raise ConfigError(msg) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"world.n_users=50000"`` into the key path and a TOML-parsed value.

    The value is read as a TOML literal (``50000``, ``0.1``, ``true``, ``"x"``, ``[1, 2]``);
    if that fails it is taken as a bare string (``--set simulate.policy=oracle``).
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}, must look like section.key=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override set (before validation)."""
    out: dict[str, Any] = json.loads(json.dumps(data)) if data else {}
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for i, k in enumerate(keys[:-1]):
            child = node.setdefault(k, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"--set {text!r}: {'.'.join(keys[: i + 1])} is a value, not a table"
                )
            node = child
        node[keys[-1]] = value
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(p)!r} is a directory, must be a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {err}") from None


# --------------------------------------------------------------------------- writing


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a TOML value")


def _as_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _as_plain(v) for k, v in obj.items()}
    return obj


def _write_table(lines: list[str], table: Mapping[str, Any], path: str) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines.append(f"[{path}]")
    for k, v in scalars.items():
        lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    if scalars:
        lines.append("")
    for k, v in tables.items():
        _write_table(lines, v, _join(path, _toml_key(k)))


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key)
    return key if bare else json.dumps(key)


def to_toml(obj: Any) -> str:
    """Render a dataclass tree (or nested mapping) as TOML text; ``None`` values are omitted."""
    lines: list[str] = []
    _write_table(lines, _as_plain(obj), "")
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["apply_overrides", "from_dict", "parse_override", "read_toml", "to_toml"]
