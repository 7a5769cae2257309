"""Tokens verified against a JWKS served over real HTTP, with a bounded refetch."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import ServerFactory
from tests.test_http import complete
from tests.test_security import claims, written

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """Serves one RSA key as a JWKS and counts how often it is fetched."""

    def __init__(self) -> None:
        self.fetches = 0
        jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.httpd.shutdown()


def test_jwks_tokens_are_accepted_and_unknown_keys_refetch_boundedly(
    server_factory: ServerFactory, lessons: dict[str, int], jwks: JwksServer
) -> None:
    server = server_factory.start(jwt_algorithms=("RS256",), jwt_jwks_url=jwks.url)

    def token(kid: str, sub: str = "jo") -> str:
        return jwt.encode(claims(sub=sub), KEY, algorithm="RS256", headers={"kid": kid})

    accepted = complete(server, token("key-1"), "lesson-1")
    again = complete(server, token("key-1", "kim"), "lesson-2")
    before = written(server.settings.database_url)
    unknown = [complete(server, token(str(uuid.uuid4())), "lesson-3") for _ in range(20)]

    assert (accepted.status_code, again.status_code) == (201, 201)
    assert {a.status_code for a in unknown} == {401}
    assert jwks.fetches <= 2, "twenty unknown key ids refetch the JWKS at most once"
    assert written(server.settings.database_url) == before
