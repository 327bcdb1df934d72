"""The README's "Using it with your store", walked as a merchant would, in a terminal.

Each command runs in a pseudo-terminal (pexpect), exactly as the README writes it,
in an empty folder, against the two emulators standing in for the merchant's
BigCommerce store and Starshipit account; what the terminal finally shows is
rendered by a terminal emulator (pyte), so the live progress display counts as
the user sees it. The config is the README's own TOML block, with the store's
address and the Starshipit address pointed at the emulators. The walk fails on a
traceback, a name cut short or an order's story contradicting itself, and writes
its transcript to ``$SHIPSYNC_WALK_TRANSCRIPT`` (else the test's tmp folder).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

import pexpect
import pyte
import pytest
from shipsync.plugins import PluginHost
from shipsync.sandboxes import SandboxSet

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
API_KEY = "sandbox-api-key"
ROWS, COLUMNS = 50, 120


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def readme_toml(section: str) -> str:
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match, "the README's config block is gone"
    return "\n".join(line[3:] if line.startswith("   ") else line
                     for line in match.group(1).splitlines()) + "\n"


def readme_commands(section: str) -> list[str]:
    return [c for c in re.findall(r"`(shipsync [^`]+)`", section)]


def shipsync_executable() -> str:
    beside = Path(sys.executable).with_name("shipsync")
    return str(beside) if beside.exists() else (shutil.which("shipsync") or "shipsync")


def rendered(raw: bytes, columns: int) -> str:
    """What the terminal shows once the command is done (progress frames and all)."""
    screen = pyte.Screen(columns, 4000)
    stream = pyte.ByteStream(screen)
    stream.feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


class Terminal:
    """Runs commands in a pseudo-terminal in one folder, keeping a transcript."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.transcript: list[str] = []
        self.shown: list[tuple[str, str, int]] = []

    def note(self, text: str) -> None:
        self.transcript.append(f"# {text}")

    def run(self, command: str, *, columns: int = COLUMNS, timeout: float = 180,
            interrupt_after: str | None = None) -> tuple[str, int]:
        """``command`` as typed; with ``interrupt_after``, Ctrl-C once that text shows."""
        args = command.split()
        assert args[0] == "shipsync"
        child = pexpect.spawn(shipsync_executable(), args[1:], cwd=str(self.cwd), env=self.env,
                              dimensions=(ROWS, columns), timeout=timeout)
        raw = b""
        if interrupt_after is not None:
            child.expect(re.escape(interrupt_after).encode())
            raw += (child.before or b"") + (child.after or b"")
            child.sendintr()
        child.expect(pexpect.EOF)
        raw += child.before or b""
        child.close()
        code = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus
                                                                            or 0)
        screen = rendered(raw, columns)
        self.transcript += [f"$ {command}", screen, f"[exit {code}]", ""]
        self.shown.append((command, screen, code))
        return screen, code

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.transcript) + "\n", encoding="utf-8")


@pytest.fixture
def store() -> Iterator[SandboxSet]:
    """The merchant's store and Starshipit account: emulators with a week of orders."""
    with SandboxSet(PluginHost.load(), orders=30, seed=7,
                    per_sandbox={"bigcommerce": {"days": 6}}) as running:
        yield running


def _transcript_path(tmp_path: Path) -> Path:
    return Path(os.environ.get("SHIPSYNC_WALK_TRANSCRIPT") or tmp_path / "readme-walk.txt")


def test_the_readme_walk_through_using_it_with_your_store(store: SandboxSet,
                                                           tmp_path: Path) -> None:
    section = readme_section("Using it with your store")
    commands = readme_commands(section)
    for expected in ("shipsync config check", "shipsync run bigcommerce --dry-run",
                     "shipsync run bigcommerce", "shipsync run bigcommerce --every 20m"):
        assert expected in commands, f"the README no longer says `{expected}`"
    home = tmp_path / "merchant"
    home.mkdir()
    sandbox = store.config()
    bc = sandbox["bigcommerce"]["stores"]["main"]
    ss = sandbox["starshipit"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")
           and k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env.update({"HOME": str(home), "TERM": "xterm-256color", "PYTHONIOENCODING": "utf-8",
                "STARSHIPIT_API_KEY": ss["api_key"],
                "STARSHIPIT_SUBSCRIPTION_KEY": ss["subscription_key"],
                "BIGCOMMERCE_ACCESS_TOKEN": bc["access_token"]})
    term = Terminal(home, env)
    secrets = [ss["api_key"], ss["subscription_key"], bc["access_token"]]

    # Steps 1-2: the store's API account and the Starshipit keys are the emulators'.
    term.note("steps 1-2: the API path, client id and keys are the emulators' "
              f"(BigCommerce at {bc['api_path']}, Starshipit at {ss['base_url']})")
    # Step 3: the README's shipsync.toml, pointed at the emulators.
    toml = readme_toml(section)
    assert 'api_path = "https://api.bigcommerce.com/stores/abc123/v3/"' in toml
    toml = toml.replace('"https://api.bigcommerce.com/stores/abc123/v3/"', f'"{bc["api_path"]}"')
    toml = toml.replace('client_id = "..."', f'client_id = "{bc["client_id"]}"')
    toml = toml.replace("[starshipit]\n", f'[starshipit]\nbase_url = "{ss["base_url"]}"  '
                        "# the emulator (the default is Starshipit's API)\n")
    (home / "shipsync.toml").write_text(toml, encoding="utf-8")
    term.note("step 3: shipsync.toml, the README's block (api_path, client_id and the "
              "Starshipit base_url point at the emulators):")
    term.transcript += toml.splitlines() + [""]

    checked, code = term.run("shipsync config check")
    assert code == 0 and checked.endswith("shipsync.toml: OK"), checked
    shown, code = term.run("shipsync config show")
    assert code == 0 and "<from $STARSHIPIT_API_KEY>" in shown
    assert re.search(r"^concurrency = 4  # default$", shown, re.M)

    # Step 4: a dry run first; it changes nothing.
    planned, code = term.run("shipsync run bigcommerce --dry-run")
    assert code == 0, planned
    would = int(re.search(r"would be imported\s+│\s+(\d+)", planned).group(1))  # type: ignore[union-attr]
    assert would > 0 and "what would happen" in planned
    assert "what was done is kept" not in planned
    assert store.emulator("starshipit").orders(API_KEY) == []

    done, code = term.run("shipsync run bigcommerce")
    assert code == 0, done
    imported = int(re.search(r"│ imported\s+│\s+(\d+)", done).group(1))  # type: ignore[union-attr]
    assert imported == would and "what was done" in done
    sent = store.emulator("starshipit").orders(API_KEY)
    assert len(sent) == imported

    # The merchant's week: labels printed in Starshipit, one order deleted there by hand
    # and then edited in BigCommerce.
    ss_emulator, bc_emulator = store.emulator("starshipit"), store.emulator("bigcommerce")
    unshipped = sorted((o for o in ss_emulator.unshipped(API_KEY)
                        if o["carrier"] != "PickupInStore"), key=lambda o: o["order_number"])
    assert len(unshipped) >= 2, unshipped
    printed, removed = unshipped[0]["order_number"], unshipped[-1]["order_number"]
    ss_emulator.print_label(API_KEY, printed)
    ss_emulator.delete_by_hand(API_KEY, removed)
    removed_id = removed.partition("-")[0]
    bc_emulator.update_order(bc["api_path"].split("/stores/")[1].split("/")[0],
                             int(removed_id), customer_message="leave at the back door")
    term.note(f"the merchant prints the label of {printed} in Starshipit, deletes {removed} "
              "there by hand, and edits its order in BigCommerce")

    week, code = term.run("shipsync run bigcommerce")
    assert code == 0, week
    assert re.search(r"│ written back\s+│\s+1 ", week)
    assert "removed from starshipit by hand (not sent again)" in week
    again, code = term.run("shipsync run bigcommerce")
    assert code == 0 and "removed from starshipit by hand (not sent again)" not in again
    assert re.search(r"│ left alone\s+│\s+1 ", again)

    story, code = term.run(f"shipsync explain bigcommerce {printed.partition('-')[0]}")
    assert code == 0
    assert "written_back" in story and "not imported" not in story
    assert "waiting for its label" not in story
    gone, code = term.run(f"shipsync explain bigcommerce {removed_id}")
    assert code == 0 and "removed there by hand" in gone and "a run leaves it alone" in gone

    predicted, code = term.run(f"shipsync resend bigcommerce {removed_id} --dry-run")
    assert code == 0 and re.search(r"would be imported\s+│\s+1 ", predicted)
    resent, code = term.run(f"shipsync resend bigcommerce {removed_id}")
    assert code == 0 and re.search(r"│ imported\s+│\s+1 ", resent)
    assert ss_emulator.get_order(API_KEY, removed) is not None

    listed, code = term.run("shipsync plugins", columns=80)
    assert code == 0
    for name in ("pickup-in-store", "product-options", "shipsync_status_policies",
                 "shipsync_tracking_carrier"):
        assert name in listed

    # `--every 20m` keeps it running: one cycle, then Ctrl-C.
    kept, code = term.run("shipsync run bigcommerce --every 20m",
                          interrupt_after="next run in 20m")
    assert code in (0, 130), kept
    assert re.search(r"run of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", kept)

    transcript = _transcript_path(tmp_path)
    term.write(transcript)
    print(f"README walk transcript: {transcript}")
    everything = "\n".join(term.transcript)
    assert "Traceback" not in everything
    # Nothing cut to fit (the only "…" is the Ctrl-C message's own).
    assert "…" not in everything.replace("finishing the current step…", "")
    for secret in secrets:
        assert secret not in everything


def test_progress_is_cleared_before_the_sandbox_speaks_and_counts_the_labels(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")
           and k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env.update({"HOME": str(tmp_path), "TERM": "xterm-256color"})
    child = pexpect.spawn(shipsync_executable(),
                          ["run", "bigcommerce", "--sandbox", "--sandbox-orders", "40"],
                          cwd=str(tmp_path), env=env, dimensions=(ROWS, COLUMNS), timeout=180)
    started = time.monotonic()
    # While the merchant prints labels (the emulator's 2 calls a second), the display
    # counts them against their total: never a frozen spinner.
    child.expect(rb"the merchant prints labels in starshipit\s+\d+/(\d+) labels")
    total = int(child.match.group(1))
    raw = (child.before or b"") + (child.after or b"")
    child.expect(pexpect.EOF)
    raw += child.before or b""
    child.close()
    screen = rendered(raw, COLUMNS)

    assert child.exitstatus in (0, 1), screen
    assert total > 0 and time.monotonic() - started < 180
    said = [line for line in screen.splitlines() if "sandbox: the merchant printed" in line]
    assert said == [f"sandbox: the merchant printed {total} labels in starshipit"], screen
    assert not re.search(r"\d+ orders|\d+/\d+ labels", screen)  # the live display is gone
    assert "what was done" in screen
