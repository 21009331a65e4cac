"""What the custom-resource handler tests share: a local stand-in for CloudFormation's
pre-signed response URL, which keeps every answer a handler PUTs to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class CloudFormationAnswers:
    """The response URL to put in an event, and the answers received there, in order."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def cloudformation() -> Iterator[CloudFormationAnswers]:
    answers = CloudFormationAnswers()

    class Catcher(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answers.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answers.url = f"http://127.0.0.1:{server.server_address[1]}/response"
    yield answers
    server.shutdown()
