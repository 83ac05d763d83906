"""``LocalStack``: runs one ``TransflowStatus`` of a synthesized template on this machine.

Template read -> resources made in an embedded moto server (``provision``) -> the instance's
functions, event sources and HTTP API read from the template (``providers``) -> the options'
overrides applied -> one identity per function from its role's policies (``iam``) -> execution
environments started (``functions``) -> event source pollers (``pumps``) -> the gateway serves
(``gateway``) -> the ready file. ``info`` is what the ready file holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from typing import Any

from .. import schema
from . import assembly, iam
from .assembly import Instance, StackTemplate
from .authorizers import JwtAuthorizer, LambdaAuthorizer
from .dev_issuer import DevIssuer
from .event_viewer import EventViewer
from .functions import DEFAULT_MAX_ENVIRONMENTS, FunctionRuntime, lambda_environment
from .gateway import PROXY_TOKEN_HEADER, LocalGateway, Services
from .http_api import Throttle, compile_routes
from .inbox import Inbox
from .moto_server import SerialMotoServer
from .overrides import apply_overrides
from .providers import InstanceModel, not_run, read_instance
from .provision import LOCAL_ACCOUNT_ID, Deployment, ensure_event_bus
from .pumps import QueuePoller, StreamPump
from .settings import LocalSettings, OptionError

log = logging.getLogger("transflow.local")
DEFAULT_REGION = "us-east-1"
#: Batches an SQS mapping runs at once here (as many as a function has execution environments).
MAX_BATCHES_IN_FLIGHT = DEFAULT_MAX_ENVIRONMENTS
#: The inbox target whose deliveries are verified with the notify_url secret.
NOTIFY_URL_INBOX = "notify_url"


class ReadyFileError(OSError):
    """The ready file could not be written (local mode stopped again; nothing is left running)."""


def _reset_moto() -> None:
    """moto keeps its backends in process-global state: drop them so the next start is empty."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _preload() -> None:
    """Imports start-up needs anyway (moto's server, boto3 and a botocore session)."""
    with contextlib.suppress(ImportError):
        import moto.moto_server.werkzeug_app  # noqa: F401
    _session()
    iam.known_services()


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _session() -> Any:
    """One botocore session for every client local mode makes (service models load once), with
    nothing from the user's AWS_PROFILE or ~/.aws."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            import boto3
            import botocore.session

            isolated = botocore.session.Session(
                session_vars={
                    "profile": (None, None, None, None),
                    "config_file": (None, None, os.devnull, None),
                    "credentials_file": (None, None, os.devnull, None),
                }
            )
            _SESSION = boto3.Session(botocore_session=isolated)
        return _SESSION


def _client(
    service: str, *, endpoint: str, region: str, identity: iam.Identity, header: dict[str, str] | None = None
) -> Any:
    """A boto3 client with exactly these credentials: nothing from the user's AWS_PROFILE or ~/.aws."""
    from botocore.config import Config

    session = _session()
    with _SESSION_LOCK:  # a botocore session is not safe for concurrent client creation
        client = session.client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=identity.access_key_id,
            aws_secret_access_key=identity.secret_access_key,
            aws_session_token=identity.session_token,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, account_id_endpoint_mode="disabled"),
        )
    for name, value in (header or {}).items():
        client.meta.events.register(
            "before-send.*.*", lambda request, _n=name, _v=value, **_: request.headers.__setitem__(_n, _v)
        )
    return client


class LocalStack:
    """The whole system on this machine. State lives in memory and is gone when it stops."""

    def __init__(self, settings: LocalSettings, *, template: tuple[StackTemplate, Instance] | None = None) -> None:
        self.settings = settings
        self._template = template
        self.stack: StackTemplate | None = None
        self.instance: Instance | None = None
        self.deployment: Deployment | None = None
        self.model: InstanceModel | None = None
        self.moto: SerialMotoServer | None = None
        self.gateway: LocalGateway | None = None
        self.functions: dict[str, FunctionRuntime] = {}
        self.pumps: list[Any] = []
        self.admin: iam.Identity | None = None
        self.dev_issuer: DevIssuer | None = None
        self.inbox: Inbox | None = None
        self.event_viewer: EventViewer | None = None
        self.unsupported: list[str] = []
        self.webhook_secrets: dict[str, str] = {}
        self.jwt_secret: str | None = None
        self.notify_url_secret: str | None = None
        self.startup_seconds: float | None = None
        #: Seconds spent synthesizing the built-in default stack (``None``: read from a cache or an app).
        self.synth_seconds: float | None = None
        self._mint: Any = None

    # ------------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        settings = self.settings
        started = time.monotonic()  # the figure reported: template read (or synthesized) -> ready file
        try:
            # moto's server and backends take a second or two to import: done while the template is read.
            preload = threading.Thread(target=_preload, name="preload", daemon=True)
            preload.start()
            if self._template is not None:
                self.stack, self.instance = self._template
            elif settings.app:
                self.stack, self.instance = assembly.load(
                    settings.app, stack=settings.stack, instance=settings.instance
                )
            else:
                from .default_app import synthesize

                wanted = set(settings.webhooks) | ({"*"} if settings.inbox else set())
                self.stack, self.instance, self.synth_seconds = synthesize(sorted(wanted), settings.event_bus)
            preload.join()
            self._provision()
            self.startup_seconds = round(time.monotonic() - started, 2)
            if settings.ready_file:
                self._write_ready_file(settings.ready_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _provision(self) -> None:
        settings = self.settings
        assert self.stack is not None and self.instance is not None
        region = settings.region or self.stack.region or DEFAULT_REGION
        # The stack's own account when its environment names one (its ARNs and permissions name it
        # literally); moto serves any 12-digit account.
        account = self.stack.account or LOCAL_ACCOUNT_ID
        self.gateway = LocalGateway(host=settings.host, port=settings.port)
        token = secrets.token_urlsafe(32)
        self.moto = SerialMotoServer(token=token, header=PROXY_TOKEN_HEADER).start()
        credentials = iam.Credentials()
        self.admin = credentials.add(
            iam.new_identity(
                "developer",
                f"arn:aws:iam::{account}:user/transflow-local-developer",
                session=False,
                policies=None,
            )
        )
        moto_url, admin = self.moto.endpoint_url, self.admin
        gateway_host = self.gateway.url.split("//", 1)[1]
        admin_clients: dict[str, Any] = {}

        def clients(service: str) -> Any:
            if service not in admin_clients:
                # Straight to moto, but in the gateway's name: the queue URLs moto hands out then
                # name the gateway, the only address that serves them.
                admin_clients[service] = _client(
                    service,
                    endpoint=moto_url,
                    region=region,
                    identity=admin,
                    header={PROXY_TOKEN_HEADER: token, "Host": gateway_host, iam.MOTO_ACCOUNT_HEADER: account},
                )
            return admin_clients[service]

        deployment = Deployment(
            self.stack,
            region=region,
            clients=clients,
            api_url=self.gateway.url,
            parameters=settings.parameters,
            account_id=account,
        )
        self.deployment = deployment
        self.instance = deployment.present(self.instance)
        for part in ("table", "webhook-queue", "dead-letter-queue", "stream-failure-queue"):
            logical_id = self.instance.one(part)
            if logical_id is not None:
                deployment.attributes(logical_id, None)
        # EventBridge: the template's buses and rules (rules reference nothing, so nothing else makes them).
        for logical_id, resource in deployment.resources.items():
            if resource.get("Type") in ("AWS::Events::EventBus", "AWS::Events::Rule"):
                deployment.attributes(logical_id, None)
        model = read_instance(deployment, self.instance)
        self.model = model
        # A bus the functions name but the template does not define (an imported one): made in moto.
        for spec in model.functions.values():
            bus = spec.environment.get(schema.ENV_EVENT_BUS_ARN)
            if bus:
                ensure_event_bus(clients("events"), bus)
        if settings.event_bus:
            self.event_viewer = EventViewer(clients("events"), clients("sqs"), settings.event_bus).start()
        if settings.inbox:
            self.inbox = Inbox(self.gateway.url, self._inbox_secret)
        applied = apply_overrides(self, model, deployment)
        self.webhook_secrets, self.jwt_secret = applied.webhook_secrets, applied.jwt_secret
        self.notify_url_secret = applied.notify_url_secret
        names = iam.ResourceNames(region, account)
        names.aliases.update(deployment.aliases)
        for entry in clients("secretsmanager").list_secrets().get("SecretList", []):
            names.secrets[entry["Name"]] = entry["ARN"]

        # ---- functions: one identity and one set of execution environments each ----
        identities: dict[str, iam.Identity] = {}
        for spec in model.functions.values():
            role_name = spec.role_arn.rsplit("/", 1)[-1] or spec.name
            identity = credentials.add(
                iam.new_identity(
                    spec.name,
                    f"arn:aws:sts::{account}:assumed-role/{role_name}/{spec.name}",
                    session=True,
                    policies=spec.policies,
                )
            )
            identities[spec.name] = identity
            if iam.conditional_statements(spec.policies):
                deployment.note("IAM condition keys (conditional statements are not applied)")
            env = lambda_environment(
                spec,
                credentials=identity.environment,
                endpoint_url=self.gateway.url,
                region=region,
                quiet=not settings.verbose,
            )
            self.functions[spec.name] = FunctionRuntime(spec, env, verbose=settings.verbose)
        # Execution environments start now, in their own processes, while the rest is set up (the
        # first invocation then has no cold start); start-up waits for them at the end.
        warmers = [threading.Thread(target=f.warm, daemon=True) for f in self.functions.values()]
        for thread in warmers:
            thread.start()

        for source in model.event_sources:
            if int(source.max_concurrency or 1) > MAX_BATCHES_IN_FLIGHT:
                deployment.note(
                    f"MaximumConcurrency {source.max_concurrency} of {source.logical_id} "
                    f"(local mode runs at most {MAX_BATCHES_IN_FLIGHT} batches at once)"
                )

        # ---- the HTTP API and its authorizers ----
        authorizers: dict[str, JwtAuthorizer | LambdaAuthorizer] = {}
        api = model.api
        for route in api.routes if api else []:
            spec = route.authorizer
            if spec is None or spec.logical_id in authorizers:
                continue
            if spec.kind == "JWT":
                issuer = settings.oidc_issuer
                if issuer is None:
                    self.dev_issuer = DevIssuer(self.gateway.url, spec.audience[0] if spec.audience else "local")
                    issuer = self.dev_issuer.issuer
                    dev, claim = self.dev_issuer, self._user_claim()
                    self._mint = lambda user, ttl, _dev=dev, _claim=claim: _dev.mint(user, ttl=ttl, claim=_claim)
                authorizers[spec.logical_id] = JwtAuthorizer(spec, issuer=issuer)
            else:
                assert spec.function is not None
                authorizers[spec.logical_id] = LambdaAuthorizer(spec, self.functions[spec.function.name].invoke)
        if applied.mint is not None:
            self._mint = applied.mint
        self._check_options(authorizers, applied.jwt_secret is not None)
        others = [a for a in assembly.instances(self.stack.template) if a != self.instance.address]
        self.unsupported = [*deployment.unsupported, *not_run(deployment, self.instance, others)]
        self.gateway.services = Services(
            api_id=api.api_id if api else "none",
            account_id=account,
            region=region,
            stage=api.stage if api else "$default",
            routes=compile_routes(api) if api else [],
            cors=api.cors if api else None,
            throttle=Throttle(api.rate_limit if api else None, api.burst_limit if api else None),
            functions=self.functions,
            authorizers=authorizers,
            credentials=credentials,
            names=names,
            backend_url=moto_url,
            backend_token=token,
            dev_issuer=self.dev_issuer,
            inbox=self.inbox,
            event_viewer=self.event_viewer,
            mint=self._mint,
            page_config=self._page_config(),
            remote_tokens=settings.allow_remote_tokens,
        )
        self.gateway.start()


        # ---- event source mappings ----
        for source in model.event_sources:
            if not source.enabled:
                continue
            identity = identities[source.function.name]
            runtime = self.functions[source.function.name]
            if source.kind == "dynamodb":
                failure_client = failure_url = None
                if source.on_failure_arn:
                    failure_client = _client("sqs", endpoint=self.gateway.url, region=region, identity=identity)
                    failure_url = self._queue_url(source.on_failure_arn)
                self.pumps.append(
                    StreamPump(
                        _client("dynamodbstreams", endpoint=self.gateway.url, region=region, identity=identity),
                        source.source_arn,
                        runtime,
                        function_name=source.function.name,
                        region=region,
                        account_id=account,
                        batch_size=source.batch_size,
                        max_retries=source.max_retries,
                        failure_sqs_client=failure_client,
                        failure_queue_url=failure_url,
                        filters=source.filters,
                        bisect_on_error=source.bisect_on_error,
                        report_batch_item_failures=source.report_batch_item_failures,
                        starting_position=source.starting_position,
                    )
                )
            else:
                sqs = _client("sqs", endpoint=self.gateway.url, region=region, identity=identity)
                url = self._queue_url(source.source_arn)
                self.pumps.append(
                    QueuePoller(
                        sqs,
                        url,
                        source.source_arn,
                        runtime,
                        function_name=source.function.name,
                        region=region,
                        batch_size=source.batch_size,
                        report_batch_item_failures=source.report_batch_item_failures,
                        filters=source.filters,
                        max_concurrency=min(int(source.max_concurrency or 1), MAX_BATCHES_IN_FLIGHT),
                    )
                )
        for pump in self.pumps:
            pump.start()
        for thread in warmers:
            thread.join()

    def _check_options(self, authorizers: dict[str, Any], shared_secret: bool) -> None:
        """Options that override something the template does not have are refused, not ignored."""
        settings = self.settings
        if settings.jwt_secret is not None and not shared_secret:
            raise OptionError(
                "--jwt-secret sets the shared-secret authorizer's secret, but this template's routes use "
                + ("a JWT (OIDC) authorizer: use --oidc-issuer" if any(
                    isinstance(a, JwtAuthorizer) for a in authorizers.values()) else "no shared-secret authorizer")
            )
        if settings.oidc_issuer is not None and not any(isinstance(a, JwtAuthorizer) for a in authorizers.values()):
            raise OptionError(
                "--oidc-issuer replaces the JWT authorizer's issuer, but this template has no JWT authorizer "
                "(its tokens are shared-secret HS256: use --jwt-secret)"
            )

    def _inbox_secret(self, name: str) -> str | None:
        if name == NOTIFY_URL_INBOX:
            return self.notify_url_secret
        return self.webhook_secrets.get(name)

    def _queue_url(self, arn: str) -> str:
        """A queue's URL from its ARN, as Lambda's poller knows it (no GetQueueUrl permission needed)."""
        assert self.deployment is not None
        logical_id = self.deployment.logical_id_of("AWS::SQS::Queue", arn)
        if logical_id is None:
            raise assembly.AssemblyError(f"the event source or destination {arn} is not a queue of this template")
        return str(self.deployment.attributes(logical_id, None))

    @property
    def demo_template(self) -> str:
        """The template id --demo's assemblies use: one the template has a webhook target for (the
        demo's own id when there is a default target), so their webhooks are delivered."""
        from .demo import DEMO_TEMPLATE

        webhook = self.model.by_part("webhook-function") if self.model else None
        config = json.loads((webhook.environment.get(schema.ENV_WEBHOOK_CONFIG) if webhook else None) or "{}")
        targets = sorted(config.get("targets") or {})
        return DEMO_TEMPLATE if config.get("default") or not targets else targets[0]

    def _user_claim(self) -> str:
        status = self.model.by_part("status-function") if self.model else None
        return (status.environment.get(schema.ENV_USER_ID_CLAIM) if status else None) or schema.DEFAULT_USER_ID_CLAIM

    def _page_config(self) -> dict[str, Any]:
        return {
            "can_mint": self._mint is not None,
            "inbox": self.inbox is not None,
            "event_bus": self.event_viewer.bus_name if self.event_viewer is not None else None,
            "auth": "jwt" if self.dev_issuer or self.settings.oidc_issuer else "lambda",
        }

    def mint(self, user: str, ttl: int = 12 * 3600) -> str | None:
        """A token the running API accepts for ``user``, when local mode holds the signing key."""
        return self._mint(user, ttl) if self._mint is not None else None

    def client(self, service: str) -> Any:
        """A boto3 client for this local mode, with the developer's credentials."""
        assert self.gateway is not None and self.admin is not None and self.deployment is not None
        return _client(service, endpoint=self.gateway.url, region=self.deployment.region, identity=self.admin)

    # ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        for part in self.pumps:
            try:
                part.stop()
            except Exception:  # pragma: no cover - best effort on the way out
                log.exception("stopping %s failed", part)
        self.pumps = []
        if self.event_viewer is not None:
            self.event_viewer.stop()
            self.event_viewer = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        for runtime in self.functions.values():
            runtime.close()
        self.functions = {}
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
            _reset_moto()
        if self.settings.ready_file:
            with contextlib.suppress(OSError):
                os.unlink(self.settings.ready_file)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------
    def _value(self, part: str, attribute: str | None = None) -> Any:
        assert self.instance is not None and self.deployment is not None
        logical_id = self.instance.one(part)
        return self.deployment.attributes(logical_id, attribute) if logical_id else None

    @property
    def info(self) -> dict[str, Any]:
        """What the ready file holds: enough for any client or test to use this instance."""
        assert self.gateway is not None and self.admin is not None and self.model is not None
        assert self.stack is not None and self.instance is not None and self.deployment is not None
        status = self.model.by_part("status-function")
        table = self._value("table") or (status.environment.get(schema.ENV_TABLE_NAME) if status else None)
        return {
            "api_url": self.gateway.url,
            "aws_endpoint_url": self.gateway.url,
            "region": self.deployment.region,
            "table_name": table,
            "webhook_queue_url": self._value("webhook-queue"),
            "dlq_url": self._value("dead-letter-queue"),
            "stream_failure_queue_url": self._value("stream-failure-queue"),
            "status_function_name": status.name if status else None,
            "aws_access_key_id": self.admin.access_key_id,
            "aws_secret_access_key": self.admin.secret_access_key,
            "stack": self.stack.name,
            "instance": self.instance.address,
            "functions": {f.part or f.name: f.name for f in self.model.functions.values()},
            "oidc_issuer": self.dev_issuer.issuer if self.dev_issuer else self.settings.oidc_issuer,
            "inbox_url": self.inbox.base_url if self.inbox else None,
            "event_bus_arn": self._event_bus_arn(),
            "webhook_secrets": dict(self.webhook_secrets),
            "notify_url_secret": self.notify_url_secret,
            "jwt_secret": self.jwt_secret,
            "exposed": self.gateway.exposed,
            "host": self.settings.host,
            "remote_tokens": self.settings.allow_remote_tokens,
            "unsupported": list(self.unsupported),
            "demo_template": self.demo_template,
            "startup_seconds": self.startup_seconds,
            "synth_seconds": self.synth_seconds,
        }

    def _event_bus_arn(self) -> str | None:
        """The bus the assembly events go to (the functions' ``TRANSFLOW_EVENT_BUS_ARN``), if any."""
        assert self.model is not None
        for spec in self.model.functions.values():
            if spec.environment.get(schema.ENV_EVENT_BUS_ARN):
                return str(spec.environment[schema.ENV_EVENT_BUS_ARN])
        return None

    def _write_ready_file(self, path: str) -> None:
        """Written atomically (temp file + rename) so a reader never sees half of it."""
        directory = os.path.dirname(os.path.abspath(path))
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ready-")
            with os.fdopen(fd, "w") as handle:
                json.dump(self.info, handle)
            os.chmod(tmp, 0o600)  # it holds the developer's credentials
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise ReadyFileError(exc.errno, exc.strerror, path) from exc
