"""An embedded moto server that handles one request at a time.

moto's backends are plain Python dicts without locks; its stock threaded server lets two requests
mutate one table at once ("dictionary changed size during iteration"). Real DynamoDB applies each
request atomically, so serving requests one by one is the faithful emulation (and the reason
concurrency tests of the store can trust it).
"""

from __future__ import annotations

import threading
from typing import Any


class SerialMotoServer:
    """Start with ``start()``; ``endpoint_url`` is then ``http://host:port``; ``stop()`` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> SerialMotoServer:
        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "local mode needs moto's server extras: pip install 'transflow-constructs[local]'"
            ) from exc
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one INFO line per AWS call otherwise
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, app, threaded=False, request_handler=MotoRequestHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SerialMotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
