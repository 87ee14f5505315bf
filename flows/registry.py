"""Where flows register their slash commands, button payload prefixes and flows.

A flow module registers itself at import time; ``flows.router`` imports every flow
module, so adding a flow is: write the module, register, add it to the router's list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flows.contract import Context, Effect, InboundEvent, Reply, State, StepResult

Handler = Callable[[State, InboundEvent, Context], Awaitable[StepResult]]

CITIZEN = None  # roles=None: anyone may use the command
STAFF = frozenset({"official", "leader", "admin"})
MANAGERS = frozenset({"leader", "admin"})


@dataclass(frozen=True)
class Command:
    name: str  # "/quota"
    handler: Handler
    roles: frozenset[str] | None  # who may use it; None: everyone
    help: str  # one line, marked with N_ and translated when shown


@dataclass(frozen=True)
class Flow:
    """A multi-step conversation: its step function, how to re-ask, how to give up."""

    name: str
    step: Handler
    prompt: Callable[[State, Context], Reply]
    expire: Callable[[State], tuple[Effect, ...]]


COMMANDS: dict[str, Command] = {}
BUTTONS: dict[str, Handler] = {}  # payload prefix ("t:") → handler, pressed in any state
FLOWS: dict[str, Flow] = {}


def command(name: str, *, help: str, roles: frozenset[str] | None = CITIZEN):
    """Register a slash command handler (decorator)."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"command {name} registered twice")
        COMMANDS[name] = Command(name, handler, roles, help)
        return handler

    return register


def button(prefix: str):
    """Register the handler of buttons whose payload starts with ``prefix`` (decorator)."""

    def register(handler: Handler) -> Handler:
        if prefix in BUTTONS:
            raise ValueError(f"button prefix {prefix} registered twice")
        BUTTONS[prefix] = handler
        return handler

    return register


def flow(definition: Flow) -> Flow:
    """Register a multi-step flow."""
    FLOWS[definition.name] = definition
    return definition
