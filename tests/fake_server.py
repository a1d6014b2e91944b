"""What the fake OpenAI-protocol servers share: serving on a free loopback port, announced on stdout.

The servers run as ``python -m tests.<pkg>.<module>`` from the repository root (see
:func:`tests.helpers.running_server`), so they can import this module.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out or hang up are part of the scenarios; don't spam stderr about them.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def serve(handler: type[BaseHTTPRequestHandler]) -> None:
    """Bind 127.0.0.1 on a free port, print ``PORT <n>``, serve until interrupted."""
    server = QuietServer(("127.0.0.1", 0), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
