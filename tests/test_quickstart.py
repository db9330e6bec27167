"""The README's quick start, run as a new user would: every command of it, in a fresh directory."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def quick_start_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the README's "Quick start" section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.S)


@pytest.mark.slow
def test_every_command_of_the_quick_start_works_in_a_fresh_directory(tmp_path):
    blocks = quick_start_blocks()
    assert [language for language, _ in blocks] == ["bash", "python", "bash", "bash"]
    (tmp_path / "configs").symlink_to(REPO / "configs")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for language, code in blocks:
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{language} block failed:\n{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    runs = tmp_path / "runs"
    assert (runs / "first" / "metrics.json").is_file() and (runs / "first-api" / "metrics.json").is_file()
    assert len((runs / "first-sweep" / "results.jsonl").read_text().splitlines()) == 4
    assert (runs / "first-sweep" / "report.md").is_file()
