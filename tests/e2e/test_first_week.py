"""A merchant's first week, through the real CLI against the emulators (issue 14).

Orders fixed by hand in the sink, explain in time, honest reports and exit codes,
JSON for programs, a CLI without surprises, plugins listed in full.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shipsync.engine.report import ACTIONS_KEPT, StoreReport
from shipsync.testing import run_cli, write_config
from sync_world import API_KEY, World
from test_bad_input import CORPUS

ADDRESS = {"first_name": "Ana", "last_name": "Silva", "street_1": "12 Harbour St",
           "city": "Sydney", "state": "New South Wales", "zip": "2000", "country_iso2": "AU"}
REMOVED = "removed from starshipit by hand (not sent again)"


def _order(world: World, name: str = "Vase", **extra: object) -> dict:
    return world.add_order(shipping_addresses=[ADDRESS], products=[{"name": name}], **extra)


# --------------------------------------------------------------------------- item 2


def test_an_order_removed_by_hand_is_reported_once_never_recreated_and_resend_sends_it(
        world: World) -> None:
    order = _order(world)
    number = str(order["id"])
    world.run()
    world.ss.delete_by_hand(API_KEY, number)  # the merchant deletes it in Starshipit
    world.bc.update_order("main", order["id"], shipping_address={"street_1": "9 New Rd"})

    first = world.run()  # exit 0 (asserted by run)
    second = world.run()

    assert first["failed"] == 0 and first["skipped_reasons"] == {REMOVED: 1}
    assert [a["action"] for a in first["actions"]] == ["skip"]
    assert first["actions"][0]["order_number"] == number
    assert second["failed"] == 0 and second["skipped"] == 0 and second["left_alone"] == 1
    assert second["already_imported"] == 0 and second["imported"] == 0
    assert number not in world.starshipit_orders()
    story = world.cli("explain", "bigcommerce", number, "--json").json()
    assert any("removed there by hand" in line for line in story["standing"])
    assert story["today"][0].startswith("a run leaves it alone")
    assert not any("waiting for its label" in line for line in story["summary"])

    predicted = world.cli("resend", "bigcommerce", number, "--dry-run", "--json")
    assert predicted.code == 0, predicted.stderr
    plan = predicted.json()["stores"][0]
    assert plan["imported"] == 1 and plan["dry_run"] is True
    assert plan["actions"][0]["why"] == "sent again: it was removed from the sink by hand"
    assert number not in world.starshipit_orders()  # the dry run changed nothing

    done = world.cli("resend", "bigcommerce", number, "--json")
    assert done.code == 0, done.stderr
    assert done.json()["stores"][0]["imported"] == 1
    assert world.starshipit_orders()[number]["destination"]["street"] == "9 New Rd"
    assert world.run()["already_imported"] == 1


def test_a_delete_that_finds_the_order_gone_reports_it_removed_not_deleted(
        world: World) -> None:
    order = _order(world)
    world.run()
    world.ss.delete_by_hand(API_KEY, str(order["id"]))
    world.bc.update_order("main", order["id"], status_id=5)  # cancelled in BigCommerce too

    report = world.run()

    assert report["deleted"] == 0 and report["failed"] == 0
    assert report["skipped_reasons"] == {REMOVED: 1}
    assert world.run()["skipped"] == 0


def test_forget_stops_an_order_failing_on_every_run(world: World) -> None:
    _case, corruption, _words = CORPUS[0]
    broken = _order(world)
    world.bc.corrupt_order("main", broken["id"], corruption)
    assert world.run(expect=1)["failed"] == 1
    assert world.run(expect=1)["failed"] == 1  # quarantined: retried, and failing, every run

    predicted = world.cli("forget", "bigcommerce", str(broken["id"]), "--dry-run")
    assert predicted.code == 0, predicted.stderr
    assert "would leave" in predicted.stdout and "no longer retried" in predicted.stdout
    assert world.run(expect=1)["failed"] == 1  # the dry run changed nothing

    forgot = world.cli("forget", "bigcommerce", str(broken["id"]))
    assert forgot.code == 0, forgot.stderr
    after = world.run()
    assert after["failed"] == 0
    story = world.cli("explain", "bigcommerce", str(broken["id"]), "--json").json()
    assert any("forgotten" in line for line in story["standing"])


# --------------------------------------------------------------------------- item 3


def test_explain_of_an_imported_printed_written_back_order_never_contradicts_itself(
        world: World) -> None:
    order = _order(world)
    world.run()
    world.print_label(str(order["id"]))
    world.run()  # written back: BigCommerce now says Shipped

    shown = world.cli("explain", "bigcommerce", str(order["id"]))

    assert shown.code == 0, shown.stderr
    text = shown.stdout
    sections = [line for line in text.splitlines() if line.endswith(":") and
                not line.startswith(" ")]
    assert sections == ["what happened:", "where it stands:", "now:", "today:"]
    assert text.index("imported") < text.index("written_back") < text.index("Shipped (2)")
    assert "not imported" not in text and "waiting for its label" not in text
    assert "a run leaves it be" in text and "imported already" in text
    assert "• today:" not in text


def test_explain_of_an_order_nobody_knows_exits_1(world: World) -> None:
    shown = world.cli("explain", "bigcommerce", "424242")
    assert shown.code == 1
    assert "not found in bigcommerce" in shown.stdout
    as_json = world.cli("explain", "bigcommerce", "424242", "--json")
    assert as_json.code == 1 and as_json.json()["found"] is False


# --------------------------------------------------------------------------- item 5


def test_a_real_run_lists_what_it_did_to_each_order_after_the_counts(world: World) -> None:
    new = _order(world, "Lamp")
    unpaid = _order(world, "Rug", status_id=7)
    world.run()
    _order(world, "Bowl")
    world.print_label(str(new["id"]))
    world.bc.update_order("main", unpaid["id"], status_id=11)

    shown = world.cli("run", "bigcommerce")

    assert shown.code == 0, shown.stderr
    counts_at = shown.stdout.index("already imported")
    lines_at = shown.stdout.index("what was done")
    assert counts_at < lines_at
    lines = shown.stdout[lines_at:]
    assert "imported" in lines and "written back" in lines
    assert str(unpaid["id"]) in lines and str(new["id"]) in lines
    assert "would be" not in shown.stdout and "what was done is kept" not in shown.stderr


def test_report_lines_are_bounded_for_huge_runs() -> None:
    report = StoreReport("main", "bigcommerce", "starshipit")
    for i in range(ACTIONS_KEPT + 250):
        report.add_action("import", str(i), str(i), "new order in an import status")
    data = report.to_dict()
    assert len(data["actions"]) == ACTIONS_KEPT and data["actions_omitted"] == 250


def test_every_json_is_json_lines_each_with_its_start_time(world: World) -> None:
    _order(world)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "--config", str(world.config_path), "run",
         "bigcommerce", "--json", "--every", "1s"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=world.tmp_path)
    lines = []
    deadline = time.monotonic() + 60
    while len(lines) < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if line:
            lines.append(line)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    cycles = [json.loads(line) for line in lines]  # each line is a whole document
    assert [c["cycle"] for c in cycles] == [1, 2]
    starts = [c["started_at"] for c in cycles]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", s) for s in starts)
    assert starts[0] < starts[1] or starts[0] == starts[1]
    assert cycles[0]["stores"][0]["imported"] == 1


def test_json_errors_are_json(world: World) -> None:
    unknown = world.cli("run", "bigcommerce", "--json", "--store", "nope")
    broken = world.tmp_path / "broken.toml"
    broken.write_text("[starshipit]\napi_key = 5\n")
    bad_config = run_cli(["run", "bigcommerce", "--json"], config=broken, cwd=world.tmp_path)

    assert unknown.code == 2 and unknown.json()["error"]["kind"] == "error"
    assert "no bigcommerce store named 'nope'" in unknown.json()["error"]["message"]
    assert bad_config.code == 2
    error = bad_config.json()["error"]
    assert error["kind"] == "config" and error["problems"]


def _unreachable(world: World) -> Path:
    data = world.sandboxes.config(world.tmp_path / "state.db")
    data["bigcommerce"]["stores"]["main"]["api_path"] = (
        "http://127.0.0.1:9/stores/abc/v3/")  # the discard port: nothing listens
    data["run"] = {"max_retries": 1, "timeout": 2}
    return write_config(world.tmp_path / "unreachable.toml", data)


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_unreachable_api_exits_3_naming_the_host(world: World, dry_run: bool) -> None:
    config = _unreachable(world)
    extra = ["--dry-run"] if dry_run else []

    shown = run_cli(["run", "bigcommerce", *extra], config=config, cwd=world.tmp_path)
    as_json = run_cli(["run", "bigcommerce", "--json", *extra], config=config,
                      cwd=world.tmp_path)

    assert shown.code == 3 and as_json.code == 3
    assert "could not reach 127.0.0.1:9" in shown.stderr
    assert "Traceback" not in shown.stderr
    assert as_json.json()["stores"][0]["error"].startswith("bigcommerce: could not reach")
    assert as_json.json()["exit_code"] == 3
    if dry_run:
        assert "what was done" not in shown.stderr + shown.stdout
        assert "nothing was changed (dry run)" in shown.stderr
    else:
        assert "what was done before is kept" in shown.stderr


def test_refused_credentials_exit_3_and_say_so(world: World) -> None:
    world.configure(access_token="not-the-token")
    shown = world.cli("run", "bigcommerce")
    assert shown.code == 3
    assert "refused the credentials" in shown.stderr


def test_failed_records_still_exit_1(world: World) -> None:
    _case, corruption, _words = CORPUS[0]
    broken = _order(world)
    world.bc.corrupt_order("main", broken["id"], corruption)
    assert world.cli("run", "bigcommerce").code == 1


# --------------------------------------------------------------------------- item 7


def test_config_may_come_after_the_command(world: World, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _order(world)
    for args in (["run", "bigcommerce", "--json", "--config", str(world.config_path)],
                 ["run", "bigcommerce", "--json", f"--config={world.config_path}"],
                 ["config", "check", "-c", str(world.config_path)]):
        done = run_cli(args, cwd=elsewhere)
        assert done.code == 0, (args, done.stderr)


def test_config_show_marks_unset_variables_problems_and_defaults(world: World) -> None:
    data = world.sandboxes.config(world.tmp_path / "state.db")
    data["starshipit"]["api_key"] = {"env": "SS_FIRST_WEEK_KEY"}
    path = write_config(world.tmp_path / "env.toml", data)

    shown = run_cli(["config", "show"], config=path, cwd=world.tmp_path)
    as_json = run_cli(["config", "show", "--json"], config=path, cwd=world.tmp_path)

    assert shown.code == 0, shown.stderr
    assert "<from $SS_FIRST_WEEK_KEY: not set>" in shown.stdout
    assert "problem: environment variable SS_FIRST_WEEK_KEY is not set" in shown.stdout
    assert re.search(r"^concurrency = 4  # default$", shown.stdout, re.M)
    assert re.search(r"^days = 7  # default$", shown.stdout, re.M)
    shown_json = as_json.json()
    assert shown_json["starshipit"]["api_key"] == "<from $SS_FIRST_WEEK_KEY: not set>"
    assert "$.run.concurrency" in shown_json["_defaults"]
    assert [p["path"] for p in shown_json["_problems"]] == ["$.starshipit.api_key"]


COMMANDS = [["run"], ["import"], ["writeback"], ["explain"], ["resend"], ["forget"],
            ["sandbox"], ["plugins"], ["plugins", "new"], ["config", "check"],
            ["config", "show"], ["schema"], ["statuses"], []]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "shipsync")
def test_help_shows_no_type_placeholder_on_flags(command: list[str], tmp_path: Path) -> None:
    shown = run_cli([*command, "--help"], cwd=tmp_path)
    assert shown.code == 0, shown.stderr
    assert "<bool>" not in shown.stdout


def test_writeback_help_has_no_import_only_days(tmp_path: Path) -> None:
    assert "--days" not in run_cli(["writeback", "--help"], cwd=tmp_path).stdout
    assert "--days" in run_cli(["import", "--help"], cwd=tmp_path).stdout


def test_a_misspelt_key_gets_a_did_you_mean(world: World) -> None:
    data = world.sandboxes.config(world.tmp_path / "state.db")
    data["bigcommerce"]["stores"]["main"]["improt_statuses"] = [9]
    path = write_config(world.tmp_path / "typo.toml", data)
    checked = run_cli(["config", "check"], config=path, cwd=world.tmp_path)
    assert checked.code == 2
    assert "unknown key 'improt_statuses': did you mean 'import_statuses'?" in checked.stderr


# --------------------------------------------------------------------------- item 8


def test_plugins_lists_every_name_in_full_at_80_columns_in_a_pipe(tmp_path: Path) -> None:
    listed = run_cli(["plugins"], env={"COLUMNS": "80"}, cwd=tmp_path)
    described = run_cli(["plugins", "--json"], cwd=tmp_path).json()["plugins"]

    assert listed.code == 0 and "…" not in listed.stdout
    words = set(re.findall(r"[\w-]+", listed.stdout))
    for plugin in described:
        assert plugin["name"] in words
        for name in plugin["hooks"] + [n for names in plugin["components"].values()
                                       for n in names]:
            assert name in words, name


def test_unknown_disabled_names_are_reported(world: World) -> None:
    data = world.sandboxes.config(world.tmp_path / "state.db")
    data["plugins"] = {"disable": ["product-optoins"]}
    path = write_config(world.tmp_path / "disable.toml", data)
    shown = run_cli(["config", "check"], config=path, cwd=world.tmp_path,
                    env={"SHIPSYNC_DISABLE_PLUGINS": "pickup-in-stor"})
    assert shown.code == 0, shown.stderr
    assert "[plugins] disable names 'product-optoins'" in shown.stderr
    assert "$SHIPSYNC_DISABLE_PLUGINS names 'pickup-in-stor'" in shown.stderr


def test_disabling_a_plugin_the_config_needs_says_so(world: World) -> None:
    checked = world.cli("config", "check", env={"SHIPSYNC_DISABLE_PLUGINS": "starshipit"})
    assert checked.code == 2
    assert "the plugin 'starshipit' this section configures is disabled" in checked.stderr
    assert "was unexpected" not in checked.stderr


# --------------------------------------------------------------------------- item 4


def _start_sandbox(tmp_path: Path, config: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "sandbox", "--orders", "10", "--write-config",
         str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path)
    said = ""
    deadline = time.monotonic() + 60
    while "Ctrl-C to stop." not in said and time.monotonic() < deadline:
        said += process.stdout.readline()  # type: ignore[union-attr]
    return process, said


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)


def test_each_sandbox_session_starts_a_new_state(tmp_path: Path) -> None:
    config = tmp_path / "shipsync.sandbox.toml"
    first, said = _start_sandbox(tmp_path, config)
    try:
        assert "shipsync-sandbox.db (new for this session)" in said
        before = run_cli(["run", "bigcommerce", "--json"], config=config, cwd=tmp_path)
        assert before.code == 0, before.stderr
        assert before.json()["stores"][0]["imported"] > 0
    finally:
        _stop(first)
    second, said = _start_sandbox(tmp_path, config)  # new emulators, new seed data
    try:
        assert "replacing the last session's" in said
        after = run_cli(["run", "bigcommerce", "--json"], config=config, cwd=tmp_path)
        assert after.code == 0, after.stderr
        report = after.json()["stores"][0]
        # A fresh state: the new session's orders are imported, nothing stale is updated.
        assert report["imported"] > 0 and report["updated"] == 0 and report["failed"] == 0
    finally:
        _stop(second)


def test_the_sandbox_never_replaces_a_state_file_it_did_not_make(tmp_path: Path) -> None:
    foreign = tmp_path / "shipsync-sandbox.db"
    foreign.write_text("a merchant's notes, not a sandbox's state")
    done = run_cli(["sandbox", "--write-config", str(tmp_path / "shipsync.sandbox.toml")],
                   cwd=tmp_path)
    assert done.code == 2
    assert f"{foreign} exists and was not made by `shipsync sandbox`" in done.stderr
    assert foreign.read_text() == "a merchant's notes, not a sandbox's state"
