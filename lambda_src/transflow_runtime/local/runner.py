"""``LocalStack``: starts moto, provisions resources, runs the handlers, serves HTTP.

Everything runs in this process; handler modules are imported only after the environment points
every AWS SDK call at the embedded moto server, exactly as Lambda imports them with theirs.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import tempfile
from typing import Any

from .. import schema
from .environment import (
    LOCAL_ACCOUNT_ID,
    LocalResources,
    LocalSettings,
    aws_client,
    endpoint_override_names,
    handler_environment,
    point_sdk_at,
    provision,
)
from .gateway import LocalGateway
from .moto_server import SerialMotoServer
from .pumps import QueuePoller, StreamPump

log = logging.getLogger("transflow.local")


class ReadyFileError(OSError):
    """The ready file could not be written (local mode stopped again; nothing is left running)."""


def _reset_moto() -> None:
    """moto keeps its backends in process-global state: drop them so the next start is empty."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _handler(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class LocalStack:
    """The whole system on this machine. State lives in memory and is gone when it stops."""

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.moto: SerialMotoServer | None = None
        self.resources: LocalResources | None = None
        self.gateway: LocalGateway | None = None
        self.stream_pump: StreamPump | None = None
        self.queue_poller: QueuePoller | None = None
        self._saved_env: dict[str, str | None] = {}

    # ------------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        settings = self.settings
        self.moto = SerialMotoServer().start()
        endpoint = self.moto.endpoint_url
        env_names = [
            "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        ]
        try:
            # Endpoint overrides from the user's shell would send the handlers' calls elsewhere.
            self._saved_env = {k: os.environ.get(k) for k in [*env_names, *endpoint_override_names()]}
            point_sdk_at(endpoint, settings.region)
            self.resources = provision(settings, endpoint)
            environment = handler_environment(settings, self.resources)
            self._saved_env.update({k: os.environ.get(k) for k in environment})
            os.environ.update(environment)
            self._reload_handlers()
            self.gateway = LocalGateway(
                host=settings.host,
                port=settings.port,
                status_handler=_handler(schema.HANDLER_STATUS),
                authorizer_handler=_handler(schema.HANDLER_AUTHORIZER),
                status_function_name=settings.status_function_name,
                aws_backend_url=endpoint,
                region=settings.region,
            )
            self.stream_pump = StreamPump(
                aws_client("dynamodbstreams", endpoint, settings.region),
                self.resources.stream_arn,
                _handler(schema.HANDLER_DISPATCHER),
                region=settings.region,
                account_id=LOCAL_ACCOUNT_ID,
                failure_sqs_client=aws_client("sqs", endpoint, settings.region),
                failure_queue_url=self.resources.stream_failure_queue_url,
            )
            self.queue_poller = QueuePoller(
                aws_client("sqs", endpoint, settings.region),
                self.resources.queue_url,
                self.resources.queue_arn,
                _handler(schema.HANDLER_WEBHOOK),
                region=settings.region,
            )
            self.gateway.start()
            self.stream_pump.start()
            self.queue_poller.start()
            if settings.ready_file:
                self._write_ready_file(settings.ready_file)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for part in (self.queue_poller, self.stream_pump, self.gateway):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # pragma: no cover - best effort on the way out
                    log.exception("stopping %s failed", part)
        self.queue_poller = self.stream_pump = self.gateway = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
            _reset_moto()
        self.resources = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self.settings.ready_file:
            with contextlib.suppress(OSError):
                os.unlink(self.settings.ready_file)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _reload_handlers() -> None:
        """Handlers build their AWS clients at import; rebuild them against this moto server."""
        for path in (schema.HANDLER_STATUS, schema.HANDLER_AUTHORIZER, schema.HANDLER_DISPATCHER,
                     schema.HANDLER_WEBHOOK):
            module_name = path.rpartition(".")[0]
            module = importlib.import_module(module_name)
            importlib.reload(module)

    @property
    def info(self) -> dict[str, Any]:
        """What the ready file holds: enough for any client or test to use this instance."""
        assert self.gateway is not None and self.resources is not None and self.moto is not None
        return {
            "api_url": self.gateway.url,
            "aws_endpoint_url": self.gateway.url,
            "moto_endpoint_url": self.moto.endpoint_url,
            "region": self.settings.region,
            "table_name": self.resources.table_name,
            "webhook_queue_url": self.resources.queue_url,
            "dlq_url": self.resources.dlq_url,
            "stream_failure_queue_url": self.resources.stream_failure_queue_url,
            "status_function_name": self.settings.status_function_name,
        }

    def _write_ready_file(self, path: str) -> None:
        """Written atomically (temp file + rename) so a reader never sees half of it."""
        directory = os.path.dirname(os.path.abspath(path))
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ready-")
            with os.fdopen(fd, "w") as handle:
                json.dump(self.info, handle)
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise ReadyFileError(exc.errno, exc.strerror, path) from exc
