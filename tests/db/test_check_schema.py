"""The project's own acceptance tool: every seed table and column exists after `db upgrade`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polis.db.embedded import find_bindir


def test_check_schema_reports_every_seed_column(db_url: str, shared_dir: Path) -> None:
    tool = shared_dir / "tools" / "check_schema.py"
    if not tool.exists():
        pytest.skip("../shared/tools/check_schema.py is not beside this checkout")
    env = dict(os.environ)
    if shutil.which("psql") is None:  # the tool needs psql; the cluster's binaries have one
        env["PATH"] = f"{find_bindir()}{os.pathsep}{env.get('PATH', '')}"
    out = subprocess.run(
        [sys.executable, str(tool), db_url], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "seed columns present: 561/561 in 33 tables"
