"""The kit for operators: the compose file Docker Compose accepts, the configuration table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import fields

import pytest

from app.settings import PREFIX, PROJECT_ROOT, Settings


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if shutil.which("docker") and probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor docker compose is installed (./dev test installs it)")


def test_compose_accepts_the_file() -> None:
    env = {**os.environ, "POSTGRES_PASSWORD": "pw", "SCOREBOARD_JWT_SECRET": "s" * 40}
    result = subprocess.run(
        [*compose_command(), "config"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for service in ("db:", "redis:", "migrate:", "app:"):
        assert service in result.stdout
    assert "timescale/timescaledb" in result.stdout


def test_compose_refuses_to_start_without_secrets() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("POSTGRES_PASSWORD", "SCOREBOARD_JWT_SECRET")
    }
    result = subprocess.run(
        [*compose_command(), "config"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0


def test_the_readme_configuration_table_names_every_setting() -> None:
    """Operators read the table: each setting is in it once, and nothing else is."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `SCOREBOARD_")]
    named = re.findall(r"`(SCOREBOARD_[A-Z_]+)`", "\n".join(row.split(" | ")[0] for row in rows))
    settings = [f"{PREFIX}{f.name.upper()}" for f in fields(Settings)]

    assert sorted(named) == sorted(settings)
