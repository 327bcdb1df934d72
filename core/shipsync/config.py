"""shipsync.toml: finding, composing the schema, validating, resolving secrets.

The file is found at ``--config PATH``, else ``$SHIPSYNC_CONFIG``, else
``./shipsync.toml``. Each plugin contributes the JSON Schema of its own section
(``shipsync_config_schemas``); the core composes them with its own sections
(schemas/config.json) and reports every error with its path at once.

A string marked ``"x-secret": true`` in a schema may be given literally or as
``{ env = "NAME" }``. Resolved secrets are ``Secret`` objects, which never show
their value in ``str``, ``repr``, reports or exceptions. A secret with a blank,
a control character (a newline copied with it) or a non-ASCII character is
refused at load, naming its key and never its value: sent in a header it would
make the HTTP library raise an error quoting it.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .records import format_path, load_schema
from .registry import ConfigSchema

__all__ = [
    "Config",
    "ConfigError",
    "Secret",
    "compose_schema",
    "find_config_path",
    "load_config",
    "problems_of",
    "read_toml",
    "redact",
    "dump_toml",
    "toml_key",
    "toml_value",
    "unknown_key",
    "with_defaults",
    "ENV_VAR",
]

ENV_VAR = "SHIPSYNC_CONFIG"
DEFAULT_NAME = "shipsync.toml"
REDACTED = "***"

_ENV_REF = {
    "type": "object",
    "required": ["env"],
    "additionalProperties": False,
    "properties": {"env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
    "description": "Read the secret from this environment variable.",
}


class Secret:
    """A secret value (token, API key) that never prints itself."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "literal") -> None:
        self._value = value
        self.source = source  # "literal" or "env:NAME"; safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The config could not be used; ``problems`` lists every error with its path."""

    def __init__(self, problems: Iterable[Problem | str], path: Path | None = None) -> None:
        self.problems = [p if isinstance(p, Problem) else Problem("$", p) for p in problems]
        self.path = path
        where = f" in {path}" if path else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


@dataclass
class Config:
    """A validated config with secrets resolved."""

    data: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)  # as written: may hold literal secrets
    path: Path | None = None
    schema: dict[str, Any] = field(default_factory=dict, repr=False)
    secret_paths: list[tuple[str, ...]] = field(default_factory=list, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def redacted(self) -> dict[str, Any]:
        return redact(self.raw, self.schema)


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path.cwd() / DEFAULT_NAME


# --------------------------------------------------------------------------- schema


def _with_env_refs(schema: Any) -> Any:
    """Let every ``x-secret`` string also be ``{ env = "NAME" }``."""
    if isinstance(schema, dict):
        if schema.get("x-secret"):
            return {"anyOf": [schema, _ENV_REF], "x-secret": True,
                    "description": schema.get("description", "")}
        return {k: _with_env_refs(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_with_env_refs(v) for v in schema]
    return schema


def _inline_refs(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """Replace local ``$ref``s by their targets, so secrets can be found by walking."""
    if depth > 20:
        raise ValueError("config schema $refs nest too deep (a cycle?)")
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return _inline_refs(merged, root, depth + 1)
        return {k: _inline_refs(v, root, depth) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, root, depth) for v in schema]
    return schema


def compose_schema(sections: Iterable[ConfigSchema]) -> dict[str, Any]:
    """The whole file's schema: the core's sections plus every plugin's."""
    schema = copy.deepcopy(load_schema("config.json"))
    for entry in sections:
        if entry.section in schema["properties"]:
            raise ValueError(f"config section {entry.section!r} is reserved by the core")
        section_schema = _inline_refs(copy.deepcopy(entry.schema), entry.schema)
        if entry.description and "description" not in section_schema:
            section_schema["description"] = entry.description
        schema["properties"][entry.section] = section_schema
    composed: dict[str, Any] = _with_env_refs(schema)
    return composed


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _unknown_keys(error: ValidationError) -> list[tuple[str, str]]:
    """One problem per unknown key, with a "did you mean" when an allowed key is close."""
    schema = cast("Mapping[str, Any]", error.schema)
    allowed = sorted(schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    patterns = list(schema.get("patternProperties", {}))
    found = []
    listed = f"allowed: {', '.join(allowed)}" if allowed else "no keys are allowed here"
    for key in sorted(k for k in instance if k not in allowed
                      and not any(re.search(p, k) for p in patterns)):
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? ({listed})" if close else f"({listed})"
        # Reported at the table that holds it, where a section's own problems are.
        found.append((format_path(error.absolute_path), f"unknown key {key!r}: {hint}"))
    return found


def unknown_key(problem: Problem) -> str | None:
    """The key a problem says is unknown in its table, or None."""
    match = re.match(r"unknown key '([^']*)'", problem.message)
    return match.group(1) if match else None


def _error_message(error: ValidationError) -> tuple[str, str]:
    # The keywords read below (anyOf, additionalProperties) only sit in tables.
    schema = cast("Mapping[str, Any]", error.schema)
    if isinstance(error.instance, (dict, list)) and error.validator in ("type", "enum", "const"):
        # Never echo a table or array: it may hold secrets.
        return format_path(error.absolute_path), (
            f"expected {error.validator_value}, got {_kind(error.instance)}")
    if error.validator == "anyOf" and error.context:
        if schema.get("x-secret"):
            return format_path(error.absolute_path), (
                'expected a string or { env = "NAME" } for this secret'
            )
        inner = best_match(error.context)
        return format_path(inner.absolute_path), inner.message
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return format_path(error.absolute_path), error.message + hint
    return format_path(error.absolute_path), error.message


def _schema_problems(schema: dict[str, Any], raw: dict[str, Any]) -> list[Problem]:
    validator = Draft202012Validator(schema)
    problems: set[Problem] = set()
    for error in validator.iter_errors(raw):
        unknown = _unknown_keys(error) if error.validator == "additionalProperties" else []
        problems.update(Problem(*found) for found in unknown or [_error_message(error)])
    return sorted(problems, key=lambda p: (p.path, p.message))


# --------------------------------------------------------------------------- secrets


def _secret_paths(schema: Any, data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths in ``data`` whose schema is marked ``x-secret``."""
    if not isinstance(schema, dict) or not isinstance(data, dict):
        return []
    found: list[tuple[str, ...]] = []
    props = schema.get("properties", {})
    patterns = schema.get("additionalProperties")
    for key, value in data.items():
        sub = props.get(key, patterns if isinstance(patterns, dict) else None)
        if sub is None:
            continue
        if sub.get("x-secret"):
            found.append(prefix + (key,))
        else:
            found.extend(_secret_paths(sub, value, prefix + (key,)))
    return found


def _resolve(data: dict[str, Any], paths: list[tuple[str, ...]],
             environ: Mapping[str, str]) -> list[Problem]:
    problems = []
    for path in paths:
        node = data
        for key in path[:-1]:
            node = node[key]
        value = node[path[-1]]
        dotted = format_path(path)
        if isinstance(value, dict):
            name = value.get("env")
            if not isinstance(name, str):
                continue  # not a valid reference: the schema error says so
            if not environ.get(name):
                problems.append(Problem(dotted, f"environment variable {name} is not set"))
                node[path[-1]] = None
                continue
            node[path[-1]] = Secret(environ[name], f"env:{name}")
        elif isinstance(value, str):
            node[path[-1]] = Secret(value)
        else:
            continue
        problem = _secret_problem(node[path[-1]].reveal())
        if problem:
            where = (f"environment variable {value['env']}" if isinstance(value, dict)
                     else "the value")
            problems.append(Problem(dotted, f"{where} {problem} (check for a stray blank or "
                                            "newline pasted with it)"))
            node[path[-1]] = None
    return problems


def _secret_problem(value: str) -> str | None:
    """What makes ``value`` unusable as a token in a header; never quotes it."""
    for index, char in enumerate(value):
        if char.isspace():
            return f"has a blank (or line break) at character {index + 1} of {len(value)}"
        if not char.isascii() or not char.isprintable():
            return f"has a control or non-ASCII character at character {index + 1}"
    return None


def redact(raw: dict[str, Any], schema: dict[str, Any],
           environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of ``raw`` with every secret replaced: safe to print.

    With ``environ``, a reference to a variable it does not set reads
    ``<from $NAME: not set>``.
    """
    data = copy.deepcopy(raw)
    for path in _secret_paths(schema, data):
        node = data
        for key in path[:-1]:
            node = node[key]
        value = node[path[-1]]
        if isinstance(value, dict) and isinstance(value.get("env"), str):
            unset = environ is not None and not environ.get(value["env"])
            node[path[-1]] = f"<from ${value['env']}" + (": not set>" if unset else ">")
        else:
            node[path[-1]] = REDACTED
    return data


def with_defaults(data: dict[str, Any],
                  schema: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """A copy of ``data`` with every default the schema gives filled in, and their paths.

    Tables the file leaves out are added when the schema gives defaults in them
    (``[run]``); each table of a map (``stores``) gets its own.
    """
    filled = copy.deepcopy(data)
    paths: list[tuple[str, ...]] = []

    def fill(node: dict[str, Any], sub: Any, prefix: tuple[str, ...]) -> None:
        if not isinstance(sub, dict):
            return
        for key, prop in (sub.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            if key not in node and "default" in prop:
                node[key] = copy.deepcopy(prop["default"])
                paths.append(prefix + (key,))
            elif key not in node and prop.get("type") == "object" and _has_defaults(prop):
                node[key] = {}
                fill(node[key], prop, prefix + (key,))
                if not node[key]:
                    del node[key]
            elif isinstance(node.get(key), dict):
                fill(node[key], prop, prefix + (key,))
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in node.items():
                if key not in (sub.get("properties") or {}) and isinstance(value, dict):
                    fill(value, extra, prefix + (key,))

    fill(filled, schema, ())
    return filled, paths


def _has_defaults(schema: Any) -> bool:
    return isinstance(schema, dict) and any(
        isinstance(p, dict) and ("default" in p or _has_defaults(p))
        for p in (schema.get("properties") or {}).values())


def problems_of(raw: dict[str, Any], sections: Iterable[ConfigSchema],
                environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem of a config as written (what ``load_config`` would raise), as a list."""
    try:
        load_config(None, sections, raw=raw, environ=environ)
    except ConfigError as exc:
        return exc.problems
    return []


# --------------------------------------------------------------------------- loading


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            [f"no config file at {path} (use --config PATH, set ${ENV_VAR}, "
             f"or run `shipsync sandbox` to write one)"], path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], path) from None
    except RecursionError:
        raise ConfigError(["not valid TOML: its arrays or tables nest too deep"], path) from None
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], path) from None


def load_config(
    path: Path | None,
    sections: Iterable[ConfigSchema],
    *,
    raw: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read, validate and resolve a config; raise ``ConfigError`` with every problem."""
    sections = list(sections)
    schema = compose_schema(sections)
    if raw is None:
        if path is None:
            raise ValueError("load_config needs a path or a raw config")
        raw = read_toml(path)
    # Every problem at once: schema errors, unset environment variables, plugin checks.
    problems = _schema_problems(schema, raw)
    data = copy.deepcopy(raw)
    secret_paths = _secret_paths(schema, data)
    problems += _resolve(data, secret_paths, os.environ if environ is None else environ)
    for entry in sections:
        if entry.check and isinstance(data.get(entry.section), dict):
            try:
                found = entry.check(data[entry.section])
            except (KeyError, TypeError, AttributeError, ValueError):
                continue  # the section is malformed: its schema errors say why
            # Checks report paths within their section ("$.stores.main"); anchor them.
            problems.extend(Problem(f"$.{entry.section}{p[1:]}", m) for p, m in found)
    if problems:
        ordered: list[Problem] = sorted(set(problems), key=lambda x: (x.path, x.message))
        raise ConfigError(ordered, path)
    return Config(data=data, raw=raw, path=path, schema=schema, secret_paths=secret_paths)


# --------------------------------------------------------------------------- writing


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_toml_char(ch) for ch in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # inline table, e.g. { env = "NAME" }
        pairs = (f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_char(ch: str) -> str:
    if ch in ('"', "\\"):
        return "\\" + ch
    if ord(ch) < 0x20 or ord(ch) == 0x7F:  # TOML forbids raw control characters
        return f"\\u{ord(ch):04X}"
    return ch


def toml_key(key: str) -> str:
    # Bare keys are ASCII letters, digits, "_" and "-" only.
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def dump_toml(data: dict[str, Any], header: str = "") -> str:
    """Write a config dict as TOML (tables for nested dicts, inline for env refs)."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []

    def table(prefix: tuple[str, ...], node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items()
                   if not isinstance(v, dict) or set(v) == {"env"}}
        tables = {k: v for k, v in node.items() if k not in scalars}
        if prefix and (scalars or not tables):
            lines.append("")
            lines.append("[" + ".".join(toml_key(p) for p in prefix) + "]")
        for key, value in scalars.items():
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
        for key, value in tables.items():
            table(prefix + (key,), value)

    table((), data)
    return "\n".join(lines).lstrip("\n") + "\n"
