"""``shipsync doctor``: what each store's and sink's API does, checked without changing it.

Every configured store of every installed source, and the sink each store sends
to, is given to the diagnostics its plugin registers (``shipsync_diagnostics``).
Each yields findings: an assumption confirmed, contradicted (with what shipsync
does instead) or not observable yet. They are recorded in the state file
(``assumptions``), where the plugins read them back on the next run: a
contradicted assumption keeps (or switches) the plugin to its safe way for that
store. A diagnostic only reads; a check that fails (the API unreachable, a token
refused before the check could run) is shown as not observable and blocking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .contracts import Finding
from .engine import Engine, EngineError, StateAssumptions, source_subject
from .http import TransportError
from .registry import DiagnosticSpec
from .settings import StoreSettings

__all__ = ["Check", "run_doctor"]


@dataclass(frozen=True)
class Check:
    """One finding of one diagnostic about one subject (``SOURCE:STORE`` or a sink's name)."""

    subject: str
    kind: str
    diagnostic: str
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "kind": self.kind, "diagnostic": self.diagnostic,
                **asdict(self.finding)}


def run_doctor(engine: Engine, *, store: str | None = None) -> list[Check]:
    """Every diagnostic against every configured store (or the one named ``store``) and the
    sinks they send to; the findings are recorded in the state file."""
    host = engine.host
    checks: list[Check] = []
    sinks_done: set[str] = set()
    matched = False
    for source_name in sorted(host.sources):
        for name, section in host.sources[source_name].stores(engine.config.data):
            if store is not None and name != store:
                continue
            matched = True
            settings = StoreSettings.of(name, section)
            mine = _diagnostics(engine, "source", source_name)
            if mine:
                source = engine.source(source_name, settings)
                try:
                    checks += _run(engine, mine, source, source_subject(source_name, name),
                                   "source")
                finally:
                    source.close()
            sink_name = engine.sink_name(settings)
            if sink_name in sinks_done:
                continue
            sinks_done.add(sink_name)
            theirs = _diagnostics(engine, "sink", sink_name)
            if theirs:
                checks += _run(engine, theirs, engine.sink(sink_name), sink_name, "sink")
    if store is not None and not matched:
        raise EngineError(f"no store named {store!r} in the config")
    if not matched:
        raise EngineError("no stores are configured")
    return checks


def _diagnostics(engine: Engine, kind: str, target: str) -> list[DiagnosticSpec]:
    registry = engine.host.diagnostics
    return [registry[name] for name in sorted(registry)
            if registry[name].kind == kind and registry[name].target == target]


def _run(engine: Engine, diagnostics: list[DiagnosticSpec], subject: Any, name: str,
         kind: str) -> list[Check]:
    record = StateAssumptions(engine.state, name, checked_by="doctor")
    checks = []
    for diagnostic in diagnostics:
        try:
            for finding in diagnostic.run(subject):
                record.record(finding)
                checks.append(Check(name, kind, diagnostic.name, finding))
        except (TransportError, OSError, ValueError) as exc:
            checks.append(Check(name, kind, diagnostic.name, Finding(
                diagnostic.name, "not_observable", diagnostic.description or diagnostic.name,
                observed=f"the check could not run: {exc}", blocking=True)))
    return checks
