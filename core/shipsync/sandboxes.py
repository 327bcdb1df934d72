"""Starting the registered API emulators together, and pointing shipsync at them.

Used by ``shipsync sandbox``, ``shipsync run SOURCE --sandbox`` and the
``shipsync.testing`` pytest fixtures.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable, Iterable

from .plugins import PluginHost
from .sandbox import Emulator, EmulatorServer, SinkEmulator, SourceEmulator

__all__ = ["SandboxSet", "parse_variants", "variant_cases"]


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _unlike(name: str, emulator: Emulator, protocol: str, members: tuple[str, ...]) -> str:
    missing = [member for member in members if not hasattr(emulator, member)]
    return (f"the {name!r} sandbox's emulator ({type(emulator).__name__}) has no "
            f"{', '.join(missing)}: it does not follow shipsync.sandbox.{protocol}")


def parse_variants(host: PluginHost, texts: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["SANDBOX.NAME=VALUE", ...]`` as ``{sandbox: {name: value}}``, each checked against
    the variants the sandbox declares (``SandboxSpec.variants``); raises ``ValueError``
    saying what is wrong and what the choices are."""
    chosen: dict[str, dict[str, str]] = {}
    for text in texts:
        target, _, value = text.partition("=")
        sandbox, _, name = target.strip().partition(".")
        if not value or not name:
            raise ValueError(f"--variant {text!r}: write SANDBOX.NAME=VALUE, e.g. "
                             f"{_example(host)}")
        if sandbox not in host.sandboxes:
            raise ValueError(f"--variant {text!r}: no sandbox named {sandbox!r} (sandboxes: "
                             f"{', '.join(sorted(host.sandboxes)) or 'none'})")
        variants = host.sandboxes[sandbox].variants
        if name not in variants:
            raise ValueError(f"--variant {text!r}: the {sandbox} sandbox has no variant "
                             f"{name!r} (variants: {', '.join(sorted(variants)) or 'none'})")
        if value.strip() not in variants[name]:
            raise ValueError(f"--variant {text!r}: {sandbox}.{name} is one of "
                             f"{', '.join(variants[name])}")
        chosen.setdefault(sandbox, {})[name] = value.strip()
    return chosen


def variant_cases(host: PluginHost) -> list[tuple[str, str, str]]:
    """Every (sandbox, variant, value) that is not a variant's default: one case each."""
    return [(sandbox, name, value)
            for sandbox in sorted(host.sandboxes)
            for name, values in sorted(host.sandboxes[sandbox].variants.items())
            for value in values[1:]]


def _example(host: PluginHost) -> str:
    for sandbox in sorted(host.sandboxes):
        for name, values in sorted(host.sandboxes[sandbox].variants.items()):
            if len(values) > 1:
                return f"{sandbox}.{name}={values[1]}"
    return "SANDBOX.NAME=VALUE"


class SandboxSet:
    """The registered sandboxes, each served on loopback by its own server."""

    def __init__(self, host: PluginHost, *, names: Iterable[str] | None = None,
                 port: int = 0, per_sandbox: dict[str, dict[str, Any]] | None = None,
                 variants: dict[str, dict[str, str]] | None = None,
                 **options: Any) -> None:
        """``options`` go to every sandbox's ``create``; ``per_sandbox[name]`` to one.

        Every ``create`` takes the options it does not know as ``**options`` and
        ignores them, so ``orders``, ``seed`` and ``rate_limit`` (None: no limit)
        can be given to all at once. ``variants`` (``{sandbox: {name: value}}``, see
        ``parse_variants``) chooses how each emulated API behaves where its
        documentation is silent; each sandbox gets its own as ``variants=``.
        """
        self.host = host
        chosen = list(names) if names is not None else sorted(host.sandboxes)
        self.specs = [host.sandboxes[name] for name in chosen]
        self.options = options
        self.per_sandbox = {name: dict(extra) for name, extra in (per_sandbox or {}).items()}
        for sandbox, values in (variants or {}).items():
            mine = self.per_sandbox.setdefault(sandbox, {})
            mine["variants"] = {**mine.get("variants", {}), **values}
        self.port = port
        self.servers: dict[str, EmulatorServer] = {}

    def start(self) -> SandboxSet:
        for offset, spec in enumerate(self.specs):
            emulator = spec.create(**{**self.options, **self.per_sandbox.get(spec.name, {})})
            port = self.port + offset if self.port else 0
            self.servers[spec.name] = EmulatorServer(emulator, port=port).start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def __enter__(self) -> SandboxSet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def emulator(self, name: str) -> Emulator:
        return self.servers[name].emulator

    def source_emulator(self, name: str) -> SourceEmulator:
        """The running emulator of the source ``name``, as a ``SourceEmulator``."""
        emulator = self._running(name)
        if not isinstance(emulator, SourceEmulator):
            raise TypeError(_unlike(name, emulator, "SourceEmulator",
                                    ("stores", "add_order", "get_order")))
        return emulator

    def sink_emulator(self, name: str) -> SinkEmulator:
        """The running emulator of the sink ``name``, as a ``SinkEmulator``."""
        emulator = self._running(name)
        if not isinstance(emulator, SinkEmulator):
            raise TypeError(_unlike(name, emulator, "SinkEmulator",
                                    ("accounts", "get_order", "print_label")))
        return emulator

    def _running(self, name: str) -> Emulator:
        if name not in self.servers:
            raise KeyError(f"no sandbox named {name!r} is running "
                           f"(running: {', '.join(sorted(self.servers)) or 'none'})")
        return self.servers[name].emulator

    def url(self, name: str) -> str:
        return self.servers[name].url

    def config(self, state_path: str | Path | None = None) -> dict[str, Any]:
        """The shipsync config (as a dict) pointing at every running sandbox."""
        data: dict[str, Any] = {}
        if state_path is not None:
            data["state"] = {"path": str(state_path)}
        for spec in self.specs:
            server = self.servers[spec.name]
            _merge(data, spec.config(server.emulator, server.url))
        return data

    def play_merchant(self, fraction: float = 0.5, seed: int = 0,
                      progress: Callable[[str, int, int], None] | None = None
                      ) -> dict[str, Any]:
        """What a merchant does between runs (print labels), in every sandbox that can.

        ``progress(sandbox, done, total)`` is called as labels are printed, by the
        sandboxes whose ``play_merchant`` takes a ``progress`` argument.
        """
        done = {}
        for spec in self.specs:
            if spec.play_merchant:
                server = self.servers[spec.name]
                extra: dict[str, Any] = {}
                if progress is not None and _takes(spec.play_merchant, "progress"):
                    extra["progress"] = functools.partial(progress, spec.name)
                done[spec.name] = spec.play_merchant(server.emulator, server.url,
                                                     fraction=fraction, seed=seed, **extra)
        return done


def _takes(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` accepts the keyword ``name`` (a lazy entry is loaded first)."""
    target = getattr(function, "resolve", None)  # a lazy entry: its real function
    try:
        parameters = inspect.signature(target() if callable(target) else function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
