"""The command line: version, exit codes, output styling, plugin commands."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
import typer
from typer.testing import CliRunner

from shipsync import CommandSpec, hookimpl
from shipsync.cli import EXIT_USAGE, create_app
from test_config import THREE_MISTAKES
from shipsync.plugins import PluginHost, make_plugin_manager

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# SGR colour parameters: 30-37, 38;..., 90-97 (foreground) and 40-47, 48;..., 100-107 (background).
ANSI_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]")



def commands_plugin(*specs: CommandSpec) -> SimpleNamespace:
    @hookimpl
    def shipsync_commands() -> list[CommandSpec]:
        return list(specs)

    return SimpleNamespace(shipsync_commands=shipsync_commands)


def app_with(*plugins: tuple[str, Any]) -> typer.Typer:
    return create_app(PluginHost(make_plugin_manager(entry_points=False, plugins=plugins)))


# --------------------------------------------------------------------------- basics


def test_version_prints_the_installed_version(shipsync_run: Any) -> None:
    ran = shipsync_run("--version")
    assert ran.code == 0, ran.stderr
    assert ran.stdout.strip() == f"shipsync {version('shipsync')}"


def test_statuses_json_lists_every_bigcommerce_status() -> None:
    result = CliRunner().invoke(create_app(PluginHost.load()), ["statuses", "--json"])
    assert result.exit_code == 0, result.output
    statuses = {s["id"]: s["name"] for s in json.loads(result.stdout)["statuses"]}
    assert sorted(statuses) == list(range(15))
    assert statuses[9] == "Awaiting Shipment"
    assert statuses[11] == "Awaiting Fulfillment"
    assert statuses[2] == "Shipped"


def test_unknown_option_is_a_usage_error_exiting_2(shipsync_run: Any) -> None:
    ran = shipsync_run("plugins", "--no-such-option")
    assert ran.code == EXIT_USAGE == 2
    assert "--no-such-option" in ran.stderr


def test_unknown_command_is_a_usage_error_exiting_2() -> None:
    result = CliRunner().invoke(app_with(), ["no-such-command"])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- output styling


def test_table_output_in_a_pipe_has_no_escape_codes(shipsync_run: Any) -> None:
    ran = shipsync_run("statuses")
    assert ran.code == 0, ran.stderr
    assert "Awaiting Fulfillment" in ran.stdout
    assert not ANSI.search(ran.stdout), repr(ran.stdout[:200])


def test_error_output_in_a_pipe_has_no_escape_codes(write_config: Callable[..., Path],
                                                    shipsync_run: Any) -> None:
    ran = shipsync_run("config", "check", str(write_config(THREE_MISTAKES)))
    assert ran.code == 2
    assert "Config error" in ran.stderr
    assert not ANSI.search(ran.stderr), repr(ran.stderr[:200])


def test_no_color_drops_colour_even_on_a_forced_terminal(write_config: Callable[..., Path],
                                                         shipsync_run: Any) -> None:
    path = str(write_config(THREE_MISTAKES))
    coloured = shipsync_run("config", "check", path, env={"FORCE_COLOR": "1"})
    assert ANSI_COLOUR.search(coloured.stderr), "a forced terminal should show colour"
    plain = shipsync_run("config", "check", path, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.code == 2
    assert "Config error" in plain.stderr
    assert not ANSI_COLOUR.search(plain.stderr), repr(plain.stderr[:200])


def test_json_output_is_plain_even_on_a_forced_terminal(shipsync_run: Any) -> None:
    ran = shipsync_run("statuses", "--json", env={"FORCE_COLOR": "1"})
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["statuses"][0]["id"] == 0


# --------------------------------------------------------------------------- plugin commands


def test_plugin_command_is_added_through_the_commands_hook() -> None:
    def hello(name: str = typer.Option("world", "--name")) -> None:
        """Say hello."""
        typer.echo(f"hello {name}")

    app = app_with(("greeter", commands_plugin(CommandSpec(name="hello", command=hello,
                                                           help="Greets someone."))))
    result = CliRunner().invoke(app, ["hello", "--name", "merchant"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello merchant\n"
    assert "Greets someone." in CliRunner().invoke(app, ["--help"]).stdout


def test_plugin_command_group_is_added_through_the_commands_hook() -> None:
    group = typer.Typer()

    @group.command("ping")
    def ping() -> None:
        typer.echo("pong")

    @group.command("pong")
    def pong() -> None:
        typer.echo("ping")

    app = app_with(("tools", commands_plugin(CommandSpec(name="tools", command=group))))
    result = CliRunner().invoke(app, ["tools", "ping"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "pong\n"


def test_plugin_commands_are_absent_without_the_plugin() -> None:
    result = CliRunner().invoke(app_with(), ["hello"])
    assert result.exit_code == 2


@pytest.mark.parametrize("name", ["run", "import", "writeback", "explain", "sandbox", "schema",
                                  "plugins", "config", "serve", "webhooks"])
def test_plugin_command_colliding_with_a_core_command_is_refused(name: str) -> None:
    plugin = commands_plugin(CommandSpec(name=name, command=lambda: None))
    with pytest.raises(ValueError) as caught:
        app_with(("hijacker", plugin))
    assert "'hijacker'" in str(caught.value)
    assert repr(name) in str(caught.value)


def test_plugins_table_lists_the_loaded_plugins() -> None:
    app = app_with(("greeter", commands_plugin(CommandSpec(name="hello", command=lambda: None))))
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    (greeter,) = json.loads(result.stdout)["plugins"]
    assert greeter["name"] == "greeter"
    assert greeter["hooks"] == ["shipsync_commands"]
    assert greeter["components"] == {"commands": ["hello"]}
    assert greeter["distribution"] is None  # registered directly, not from a distribution


# --------------------------------------------------------------------------- start-up


def test_commands_that_start_no_emulator_do_not_load_one() -> None:
    # The emulators are large modules; every `shipsync run` would pay for importing them.
    import subprocess
    import sys

    script = ("import sys\nfrom shipsync.cli import main\n"
              "for argv in (['--version'], ['plugins', '--json'], ['run', '--help']):\n"
              "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
              "print(sorted(m for m in sys.modules if m.endswith('sandbox')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_commands_that_do_not_serve_do_not_load_its_libraries() -> None:
    # starlette, uvicorn, prometheus-client and standardwebhooks are the serve extra's:
    # a base install must run every other command (and `serve --help`) without them.
    import subprocess
    import sys

    script = ("import sys\nfrom shipsync.cli import main\n"
              "for argv in (['--version'], ['plugins', '--json'], ['run', '--help'],\n"
              "             ['serve', '--help'], ['webhooks', 'install', '--help']):\n"
              "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
              "libraries = ('starlette', 'uvicorn', 'prometheus_client', 'standardwebhooks')\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in libraries),\n"
              "      file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "webhooks" not in done.stderr.splitlines()[-1]
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_lazy_entry_imports_its_module_when_called() -> None:
    from shipsync import lazy

    dumps = lazy("json:dumps")
    assert dumps({"a": 1}) == '{"a": 1}'
    with pytest.raises(ValueError, match="module:attribute"):
        lazy("json.dumps")
