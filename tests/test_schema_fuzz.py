"""Schemathesis fuzzes every route of the OpenAPI schema: no answer is ever a 5xx."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Server


def test_no_generated_request_gets_a_server_error(server: Server) -> None:
    admin = server.token("fuzzer", admin=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.url}/schema/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "7426",
            "--request-timeout",
            "5",
            "--header",
            f"Authorization: Bearer {admin}",
            "--exclude-path",
            "/api/leaderboard/stream",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
