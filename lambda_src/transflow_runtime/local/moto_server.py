"""An embedded moto server that handles one request at a time.

moto's backends are plain Python dicts without locks; its stock threaded server lets two requests
mutate one table at once ("dictionary changed size during iteration"). Real DynamoDB applies each
request atomically, so serving requests one by one is the faithful emulation (and the reason
concurrency tests of the store can trust it).
"""

from __future__ import annotations

import threading
from typing import Any


def _guarded(app: Any, header: str, token: str) -> Any:
    """A WSGI app that answers 403 to any request not carrying ``header: token``."""
    import hmac

    environ_key = "HTTP_" + header.upper().replace("-", "_")

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if not hmac.compare_digest(environ.get(environ_key, ""), token):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"only local mode's gateway may call this server\n"]
        return app(environ, start_response)

    return guarded


class SerialMotoServer:
    """Start with ``start()``; ``endpoint_url`` is then ``http://host:port``; ``stop()`` ends it.

    With ``token``, only requests carrying ``header: token`` are served (local mode's gateway adds
    it after verifying a request's signature; a web page or another process cannot).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
                 header: str = "x-transflow-local-proxy") -> None:
        self.host = host
        self.port = port
        self.token = token
        self.header = header
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

        # One INFO line per AWS call otherwise, and a traceback of moto's own for a request it cannot
        # serve (the gateway logs one line for that and answers it as an AWS service failure).
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        app = DomainDispatcherApplication(create_backend_app)
        if self.token is not None:
            app = _guarded(app, self.header, self.token)
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
