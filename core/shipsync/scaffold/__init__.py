"""``shipsync plugins new NAME``: a plugin project that installs, loads and passes its tests.

The project is a distribution of its own (``shipsync-NAME``), found by shipsync
through the ``shipsync`` entry-point group like every built-in plugin:

    NAME/
      pyproject.toml            the entry point NAME = "shipsync_NAME.plugin"
      README.md
      src/shipsync_NAME/
        __init__.py
        plugin.py               the hook implementations, nothing else
        mapping.py | policy.py | sink.py
      tests/test_plugin.py      shipsync.testing fixtures and conformance suites

``--kind`` picks what the plugin gives: a mapper (with its config section), a
status policy, or a sink (JSON lines in a file, with its config section).

Each file is a template in ``templates/`` (``plugin_mapper.py.tmpl``,
``README.md.tmpl`` with ``README_KIND.md.tmpl`` for its Configure section, ...),
filled by the standard library's ``string.Template``: ``$name`` or ``${name}``
for a value, ``$$`` for a dollar sign; a value a template names but the scaffold
does not give is an error, never an empty string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

__all__ = ["KINDS", "Emulated", "PluginNames", "Scaffold", "ScaffoldError", "create_plugin",
           "emulated_in", "plugin_names", "taken_names"]

KINDS = ("mapper", "policy", "sink")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME = 40


class ScaffoldError(ValueError):
    """The plugin cannot be created as asked; the message says why and what to do."""


@dataclass(frozen=True)
class PluginNames:
    """The names one plugin goes by, all derived from NAME."""

    directory: str  # NAME as given
    name: str  # the entry point and the component: gift-note
    distribution: str  # shipsync-gift-note
    package: str  # shipsync_gift_note
    section: str  # its shipsync.toml section: gift_note (a sink's is its name)
    title: str  # Gift Note


def plugin_names(name: str) -> PluginNames:
    """Validate NAME and derive the others; a leading ``shipsync-`` is not repeated."""
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use lower-case letters and digits, words joined "
            "by single '-' or '_', starting with a letter (e.g. gift-note)")
    if len(name) > MAX_NAME:
        raise ScaffoldError(f"{name!r} is longer than {MAX_NAME} characters")
    short = re.sub(r"^shipsync[-_]", "", name)
    if short == "shipsync" or not short:
        raise ScaffoldError(f"{name!r} names shipsync itself: give the plugin a name of its own")
    words = re.split(r"[-_]", short)
    return PluginNames(
        directory=name,
        name="-".join(words),
        distribution="shipsync-" + "-".join(words),
        package="shipsync_" + "_".join(words),
        section="_".join(words),
        title=" ".join(word.capitalize() for word in words),
    )


# kind -> the PluginHost registry its component is registered in
_REGISTRY_OF_KIND = {"mapper": "mappers", "policy": "status_policies", "sink": "sinks"}


def taken_names(host: Any) -> dict[str, set[str]]:
    """Names in use in ``host``: loaded plugins, components by registry, config sections."""
    taken: dict[str, set[str]] = {
        "plugins": {name for name, plugin in host.pm.list_name_plugin() if plugin is not None},
        "config_schemas": set(host.config_schemas),
    }
    for registry in set(_REGISTRY_OF_KIND.values()):
        taken[registry] = set(getattr(host, registry))
    return taken


@dataclass(frozen=True)
class Emulated:
    """The installed sources and sinks that have a sandbox (an emulator), sorted by name.

    A generated plugin's tests import orders from one of these sources and, for
    a mapper or a policy, send them to one of these sinks.
    """

    sources: tuple[str, ...] = ()
    sinks: tuple[str, ...] = ()


def emulated_in(host: Any) -> Emulated:
    """The sources and sinks of ``host`` with a sandbox of the same name in ``host.sandboxes``."""
    sandboxes = set(host.sandboxes)
    return Emulated(sources=tuple(sorted(set(host.sources) & sandboxes)),
                    sinks=tuple(sorted(set(host.sinks) & sandboxes)))


def _choose(role: str, given: str | None, emulated: tuple[str, ...] | None) -> str:
    """The source or sink (``role``) the tests run against: ``given``, else the first emulated."""
    if emulated is None:  # the caller did not say what is installed: take its word
        if given is None:
            raise ScaffoldError(f"name the {role} the plugin's tests run against (--{role})")
        return given
    if given is None:
        if not emulated:
            raise ScaffoldError(
                f"no installed {role} has a sandbox, and the plugin's tests run against one: "
                f"install a plugin that gives a {role} and its emulator (shipsync_sandboxes)")
        return emulated[0]
    if given not in emulated:
        known = ", ".join(emulated) if emulated else "none is installed"
        raise ScaffoldError(f"--{role} {given!r} is not an installed {role} with a sandbox "
                            f"({role}s with one: {known})")
    return given


def _section(names: PluginNames, kind: str) -> str:
    # The engine builds a sink from the config section named after the sink.
    return names.name if kind == "sink" else names.section


def _check_free(names: PluginNames, kind: str, taken: dict[str, set[str]]) -> None:
    clashes = []
    if names.name in taken.get("plugins", set()):
        clashes.append(f"a loaded plugin is already called {names.name!r}")
    registry = _REGISTRY_OF_KIND[kind]
    if names.name in taken.get(registry, set()):
        clashes.append(f"a {kind} named {names.name!r} is already registered")
    section = _section(names, kind)
    if kind != "policy" and section in taken.get("config_schemas", set()):
        clashes.append(f"the config section [{section}] is already taken")
    if clashes:
        raise ScaffoldError("; ".join(clashes) + ": choose another NAME")


def _shipsync_requirement() -> str:
    try:
        release = version("shipsync")
    except PackageNotFoundError:
        return "shipsync"
    major_minor = ".".join(release.split(".")[:2])
    return f"shipsync>={major_minor}" if re.match(r"^\d+\.\d+$", major_minor) else "shipsync"


# The templates ship inside the package (core/shipsync/scaffold/templates/*.tmpl).
_TEMPLATES = files(__package__ or __name__) / "templates"

SUMMARIES = {
    "mapper": "a mapper that gives items without a country of origin the one set in "
              "[$section] country_of_origin",
    "policy": "a status policy: the shipment with its tracking number, then Completed (10) "
              "once every address has shipped",
    "sink": "a sink that writes orders as JSON lines to the file set in [$section] path",
}

# kind -> the module holding what the plugin gives, next to plugin.py
_MODULE_OF_KIND = {"mapper": "mapping", "policy": "policy", "sink": "sink"}


def _emulators(platforms: dict[str, str]) -> str:
    """What the generated tests run against, in words: "the emulators of the source X and ..."."""
    if "sink" not in platforms:
        return f"the emulator of the source {platforms['source']}"
    return f"the emulators of the source {platforms['source']} and the sink {platforms['sink']}"


def _fill(template: str, values: dict[str, str], name: str) -> str:
    try:
        return Template(template).substitute(values)
    except KeyError as exc:  # a template names a value the scaffold does not give: our bug
        raise RuntimeError(f"scaffold template {name}: no value for ${exc.args[0]}") from None
    except ValueError as exc:  # a lone "$" (write "$$" for a dollar sign): our bug too
        raise RuntimeError(f"scaffold template {name}: {exc}") from None


def _render(name: str, values: dict[str, str]) -> str:
    """The template file ``templates/NAME`` with ``$key`` / ``${key}`` filled from ``values``."""
    return _fill((_TEMPLATES / name).read_text(encoding="utf-8"), values, name)


def _project_files(names: PluginNames, kind: str, values: dict[str, str]) -> dict[str, str]:
    """The project's files (path relative to its root -> text) for a plugin of ``kind``."""
    module = _MODULE_OF_KIND[kind]
    readme = {**values, "configure": _render(f"README_{kind}.md.tmpl", values)}
    tests = {**values, "imports": _render(f"tests_imports_{kind}.py.tmpl", values)}
    return {
        "pyproject.toml": _render("pyproject.toml.tmpl", values),
        "README.md": _render("README.md.tmpl", readme),
        ".gitignore": _render("gitignore.tmpl", values),
        f"src/{names.package}/__init__.py": _render("init.py.tmpl", values),
        f"src/{names.package}/plugin.py": _render(f"plugin_{kind}.py.tmpl", values),
        f"src/{names.package}/{module}.py": _render(f"{module}.py.tmpl", values),
        "tests/test_plugin.py": (_render("tests_head.py.tmpl", tests)
                                 + _render(f"tests_{kind}.py.tmpl", values)),
    }


@dataclass(frozen=True)
class Scaffold:
    """A project written by ``create_plugin``."""

    root: Path
    names: PluginNames
    kind: str
    files: list[Path]
    source: str  # whose emulator its tests import orders from
    sink: str | None  # whose emulator they send orders to (None: a sink plugin's own sink)


def create_plugin(name: str, *, path: str | Path = ".", kind: str = "mapper",
                  taken: dict[str, set[str]] | None = None, emulated: Emulated | None = None,
                  source: str | None = None, sink: str | None = None) -> Scaffold:
    """Write the project ``path/NAME/``; refuses an existing directory or a name in use.

    Its tests run against the emulators of ``source`` and, but for a sink plugin
    (whose tests use the sink it gives), ``sink``: by default the first of
    ``emulated`` (see ``emulated_in``), which refuses any other name too.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    names = plugin_names(name)
    _check_free(names, kind, taken or {})
    if kind == "sink" and sink is not None:
        raise ScaffoldError("--sink chooses the sink a mapper's or a policy's tests send orders "
                            "to; a sink plugin's tests use the sink it gives: leave --sink out")
    platforms = {"source": _choose("source", source, emulated.sources if emulated else None)}
    if kind != "sink":
        platforms["sink"] = _choose("sink", sink, emulated.sinks if emulated else None)
    parent = Path(path)
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError(f"--path {str(parent)!r} is a file, not a directory")
    root = parent / names.directory
    if root.exists():
        raise ScaffoldError(f"{str(root)!r} already exists: choose another NAME or --path")
    section = _section(names, kind)
    values = {
        "name": names.name, "directory": names.directory, "distribution": names.distribution,
        "package": names.package, "section": section, "title": names.title, "kind": kind,
        "module": _MODULE_OF_KIND[kind], "requirement": _shipsync_requirement(),
        "summary": _fill(SUMMARIES[kind], {"section": section}, f"the {kind} summary"),
        "emulators": _emulators(platforms),
        **platforms,
    }
    rendered = _project_files(names, kind, values)
    written = []
    try:
        root.mkdir(parents=True)
        for relative, text in rendered.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {str(root)!r}: {exc.strerror or exc}") from None
    return Scaffold(root=root, names=names, kind=kind, files=written,
                    source=platforms["source"], sink=platforms.get("sink"))
