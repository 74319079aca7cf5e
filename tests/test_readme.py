"""README's two set-up commands stay true: CI runs the test command as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_readme_starts_with_two_setup_commands() -> None:
    commands = _commands()
    assert len(commands) == 2
    assert commands[0].endswith("polis demo")
    assert "pytest" in commands[1]


def test_ci_runs_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == _commands()[1]
    assert "set -euo pipefail" in ci
