"""shipsync: move e-commerce orders into shipping software, and tracking back out.

The public API that plugins import: the hook markers, the registry entry types,
records validation and the errors they raise.
"""

from __future__ import annotations

from .config import ConfigError, Secret
from .contracts import Finding
from .hookspecs import hookimpl, hookspec
from .registry import (
    CommandSpec,
    ConfigSchema,
    DiagnosticSpec,
    MapperSpec,
    SandboxSpec,
    SinkSpec,
    SourceSpec,
    StatusPolicySpec,
    WebhookSpec,
    WritebackContext,
    WritebackDecision,
    lazy,
)

__all__ = [
    "CommandSpec",
    "ConfigError",
    "ConfigSchema",
    "DiagnosticSpec",
    "Finding",
    "MapperSpec",
    "SandboxSpec",
    "Secret",
    "SinkSpec",
    "SourceSpec",
    "StatusPolicySpec",
    "WebhookSpec",
    "WritebackContext",
    "WritebackDecision",
    "hookimpl",
    "hookspec",
    "lazy",
]
