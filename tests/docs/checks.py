"""How the blocks that are not Python are checked, so that they cannot rot either.

- A ``braze-cdi`` command line in a console block is parsed by the real command, as the shell
  would pass it: an unknown command or option, or a bad value, fails. Nothing is run.
- A YAML block is loaded by what reads it: the ``dg`` component, a Prefect automation, or the
  triggers of a ``prefect.yaml`` deployment. Any other YAML must be marked as not checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import io
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml
from sybil import Example

__all__ = ["check_command_lines", "check_yaml", "command_lines"]

# A line that runs braze-cdi: an optional prompt, environment assignments, ``uv run``.
_BRAZE_CDI = re.compile(r"^\s*(?:\$\s+)?(?:\w+=\S*\s+)*(?:uv run\s+)?braze-cdi(?:\s|$)")
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<"}


def command_lines(text: str) -> list[list[str]]:
    """The arguments of every ``braze-cdi`` command line in ``text`` (continuations joined)."""
    commands = []
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        if not _BRAZE_CDI.match(line):
            continue
        command = line.strip().removeprefix("$").strip()
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
        while "=" in words[0]:  # VAR=value before the command
            words.pop(0)
        if words[:2] == ["uv", "run"]:
            words = words[2:]
        end = next((i for i, word in enumerate(words) if word in _SHELL_OPERATORS), len(words))
        commands.append(words[1:end])
    return commands


def check_command_lines(example: Example) -> None:
    """Sybil evaluator of console blocks."""
    for args in command_lines(str(example.parsed)):
        _parse(args)


def _parse(args: list[str]) -> None:
    from typer.main import get_command  # only console blocks need the CLI

    from braze_cdi.cli.app import app

    group = get_command(app)
    first = next((i for i, arg in enumerate(args) if not arg.startswith("-")), len(args))
    shown = shlex.join(["braze-cdi", *args])
    try:
        # --help and --version print and exit 0; keep them off the test's output.
        with contextlib.redirect_stdout(io.StringIO()):
            context = group.make_context("braze-cdi", args[: first + 1])
            if first < len(args):
                name = args[first]
                command = group.get_command(context, name)  # type: ignore[attr-defined]
                assert command is not None, f"`{shown}`: braze-cdi has no command {name!r}."
                command.make_context(name, args[first + 1 :], parent=context)
    except click.exceptions.Exit as done:
        if done.exit_code != 0:
            raise AssertionError(f"`{shown}` exits {done.exit_code}.") from None
    except click.UsageError as error:
        raise AssertionError(f"`{shown}`: {error.format_message()}") from None


def check_yaml(example: Example) -> None:
    """Sybil evaluator of YAML blocks."""
    data = yaml.safe_load(str(example.parsed))
    if isinstance(data, dict) and str(data.get("type", "")).startswith("dagster_braze_cdi."):
        _check_component(data)
    elif isinstance(data, dict) and {"trigger", "actions"} <= data.keys():
        from prefect.automations import AutomationCore

        AutomationCore.model_validate(data)
    elif isinstance(data, dict) and "deployments" in data:
        from prefect.events import DeploymentTriggerTypes
        from pydantic import TypeAdapter

        triggers = [t for d in data["deployments"] for t in d.get("triggers", [])]
        assert triggers, "A prefect.yaml block is checked for its triggers, and has none."
        for trigger in triggers:
            TypeAdapter(DeploymentTriggerTypes).validate_python(trigger)
    else:
        raise AssertionError(
            "This YAML is neither a dg component, a Prefect automation nor a prefect.yaml with "
            "triggers, so nothing can check it: mark it with <!-- skip: next -->."
        )


def _check_component(data: dict[str, Any]) -> None:
    import dagster as dg

    module, _, name = data["type"].rpartition(".")
    component_type = getattr(importlib.import_module(module), name)
    component = component_type.from_attributes_dict(attributes=data["attributes"])
    if isinstance(component, dg.StateBackedComponent):
        # What `dg utils refresh-defs-state` and a load do, without a project around them: the
        # state is read from the workspace the page set up, then the definitions built from it.
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state"
            written = component.write_state_to_path(state)
            if inspect.isawaitable(written):
                asyncio.run(written)  # type: ignore[arg-type]
            load_context = dg.ComponentTree.for_test().load_context
            defs = component.build_defs_from_state(load_context, state)
    else:
        defs = dg.build_defs_for_component(component)
    assert defs.resolve_all_asset_keys(), "The component defines no asset."
