"""``transflow-status``: ``local`` (the whole system here), ``token`` (a development JWT),
``watch ID`` (poll until terminal with a progress bar), ``redrive`` (DLQ back to the queue)."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .terminal import terminal_event

EXIT_OK, EXIT_FAILED, EXIT_CANCELED, EXIT_USAGE, EXIT_ERROR = 0, 1, 3, 2, 4


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _fail(prog: str, message: object, code: int) -> int:
    """Print ``prog: error: message`` as one line on stderr; returns ``code``."""
    sys.stderr.write(f"{prog}: error: {_one_line(message)}\n")
    return code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (README)
        raise SystemExit(_fail(self.prog, message, EXIT_USAGE))


class UsageError(Exception):
    """Arguments that parse but cannot be used (exit 2, one line on stderr)."""


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _user(text: str) -> str:
    from .schema import user_id_problem

    problem = user_id_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"the user id {problem}")
    return text


def _number(text: str, convert: Callable[[str], Any], accept: Callable[[Any], bool], expected: str) -> Any:
    """``convert(text)`` when it works and ``accept`` agrees; else a one-line argparse error."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _seconds(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")


def _api_url(text: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a valid URL ({exc}): {text!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL like http://127.0.0.1:8787, got {text!r}")
    return text


def _sqs_arn(text: str) -> str:
    parts = text.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not (parts[4].isdigit() and len(parts[4]) == 12) \
            or not parts[3] or not parts[5]:
        raise argparse.ArgumentTypeError(f"expected an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME), got {text!r}")
    return text


def _move_rate(text: str) -> int:
    value = _positive_int(text)
    if value > 500:  # SQS StartMessageMoveTask: MaxNumberOfMessagesPerSecond is 1-500
        raise argparse.ArgumentTypeError(f"SQS moves at most 500 messages per second, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def _port(text: str) -> int:
    return _number(text, int, lambda v: 0 <= v <= 65535, "a port number between 0 and 65535")


def _delays(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated seconds like 1,2,5, got {text!r}") from None
    if not values or any(v < 0 or v > 43200 for v in values):
        raise argparse.ArgumentTypeError("retry delays must be 0..43200 seconds each, e.g. 1,2,5")
    return values


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _webhook(text: str) -> tuple[str, str]:
    template, sep, url = text.partition("=")
    if not sep or not template or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected TEMPLATE=URL (use * for the default target), got {text!r}")
    _api_url(url)
    return template, url


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="transflow-status", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    local = commands.add_parser("local", help="run a synthesized template on this machine (no AWS, no Docker)")
    local.add_argument("--app", type=_non_empty, default=None, metavar="DIR",
                       help="a synthesized cloud assembly (cdk.out); default: the built-in default stack")
    local.add_argument("--stack", type=_non_empty, default=None, metavar="NAME",
                       help="the stack to run when the assembly has several")
    local.add_argument("--instance", type=_non_empty, default=None, metavar="ADDR",
                       help="the TransflowStatus to run when the stack has several (its address, or a prefix)")
    local.add_argument("--parameter", action="append", type=_parameter, default=[], metavar="NAME=VALUE",
                       help="a CloudFormation parameter value (repeatable)")
    local.add_argument("--host", type=_non_empty, default="127.0.0.1")
    local.add_argument("--port", type=_port, default=8787, help="0 picks a free port (default 8787)")
    local.add_argument("--jwt-secret", type=_non_empty, default=None,
                       help="value of the shared-secret authorizer's secret")
    local.add_argument("--webhook", action="append", type=_webhook, default=[], metavar="TEMPLATE=URL",
                       help="URL of that template's webhook target; TEMPLATE * is the default target (repeatable)")
    local.add_argument("--webhook-secret", type=_non_empty, default=None,
                       help="value of every webhook signing secret (whsec_... or any string)")
    local.add_argument("--webhook-retry-delays", type=_delays, default=None, metavar="1,2,5",
                       help="seconds between webhook attempts (default: the template's; 1,2,5 for the default stack)")
    local.add_argument("--webhook-max-attempts", type=_positive_int, default=None, metavar="N")
    local.add_argument("--oidc-issuer", type=_api_url, default=None, metavar="URL",
                       help="replaces the JWT authorizer's issuer (default: a development issuer local mode runs)")
    local.add_argument("--allow-private-webhooks", action="store_true",
                       help="let webhooks reach loopback/private addresses (local receivers)")
    local.add_argument("--inbox", action="store_true",
                       help="a built-in webhook receiver that verifies signatures (shown on the status page)")
    local.add_argument("--demo", action="store_true", help="run a few sample assemblies to watch (implies --inbox)")
    local.add_argument("--event-bus", type=_non_empty, default=None, metavar="NAME",
                       help="show the assembly events on this EventBridge bus on the status page (the built-in "
                            "stack gets a bus of that name; with --app, the bus the template names)")
    local.add_argument("--allow-remote-tokens", action="store_true",
                       help="with a non-loopback --host, let other machines mint tokens too (off: this machine only)")
    local.add_argument("--ready-file", type=_non_empty, default=None, metavar="PATH",
                       help="write a JSON object with the endpoints here once serving")
    local.add_argument("--quiet", action="store_true", help="print only the API URL")
    local.add_argument("--verbose", action="store_true",
                       help="also print the functions' log lines (status checks, webhook attempts, ...)")

    token = commands.add_parser("token", help="mint a development token")
    token.add_argument("--user", type=_user, required=True)
    token.add_argument("--api", type=_api_url, default=None, metavar="URL",
                       help="a running local mode: it mints a token its authorizer accepts (HS256 or its issuer)")
    token.add_argument("--secret", type=_non_empty, default=None, help="HS256 secret (without --api)")
    token.add_argument("--ttl", type=_positive_int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--issuer", type=_non_empty, default=None)
    token.add_argument("--audience", type=_non_empty, default=None)

    watch = commands.add_parser("watch", help="poll an assembly until it finishes, with a progress bar")
    watch.add_argument("assembly_id", type=_non_empty)
    watch.add_argument("--api", type=_api_url, required=True, help="API base URL, e.g. http://127.0.0.1:8787")
    watch.add_argument("--token", type=_non_empty, required=True)
    watch.add_argument("--timeout", type=_seconds, default=None, help="give up after this many seconds")

    redrive = commands.add_parser("redrive", help="move dead-lettered webhooks back to the webhook queue")
    redrive.add_argument("--dlq-arn", type=_sqs_arn, required=True)
    redrive.add_argument("--queue-arn", type=_sqs_arn, default=None,
                         help="destination (default: the DLQ's source queue)")
    redrive.add_argument("--max-per-second", type=_move_rate, default=None, help="1-500 (default: SQS picks)")
    redrive.add_argument("--region", type=_non_empty, default=None)
    return parser


# ---------------------------------------------------------------------------------------------- token
def mint(secret: str, user: str, ttl: int, issuer: str | None = None, audience: str | None = None) -> str:
    from .auth import mint_token

    return mint_token(secret, user, ttl=ttl, issuer=issuer, audience=audience)


def cmd_token(args: argparse.Namespace) -> int:
    import warnings

    if args.api:
        return _token_from_local(args)
    if not args.secret:
        return _fail("transflow-status token", "pass --secret (HS256) or --api (a running local mode)", EXIT_USAGE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = mint(args.secret, args.user, args.ttl, args.issuer, args.audience)
    for warning in caught:  # e.g. PyJWT's InsecureKeyLengthWarning for a short secret: one line each
        sys.stderr.write(f"transflow-status token: warning: {_one_line(warning.message)}\n")
    print(token)
    return EXIT_OK


def _token_from_local(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310
        args.api.rstrip("/") + "/_local/token", method="POST",
        data=json.dumps({"user": args.user, "ttl": args.ttl}).encode(), headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local mode URL given
            print(json.loads(response.read())["token"])
        return EXIT_OK
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        _fail("transflow-status token", f"{args.api} refused: {exc.code} {detail}", EXIT_ERROR)
    except (OSError, ValueError, KeyError) as exc:
        _fail("transflow-status token", f"cannot get a token from {args.api}: {exc}", EXIT_ERROR)
    return EXIT_ERROR


# ---------------------------------------------------------------------------------------------- local
def cmd_local(args: argparse.Namespace) -> int:
    import logging

    from .local.assembly import AssemblyError
    from .local.gateway import BindError
    from .local.intrinsics import TemplateError
    from .local.runner import LocalStack, ReadyFileError
    from .local.settings import LocalSettings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = LocalSettings(
        host=args.host, port=args.port, app=args.app, stack=args.stack, instance=args.instance,
        parameters=dict(args.parameter), jwt_secret=args.jwt_secret, webhooks=dict(args.webhook),
        webhook_secret=args.webhook_secret, webhook_retry_delays=args.webhook_retry_delays,
        webhook_max_attempts=args.webhook_max_attempts, oidc_issuer=args.oidc_issuer,
        allow_private_webhooks=args.allow_private_webhooks, demo=args.demo, inbox=args.inbox or args.demo,
        ready_file=args.ready_file, verbose=args.verbose, event_bus=args.event_bus,
        allow_remote_tokens=args.allow_remote_tokens,
    )
    stopped = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack = LocalStack(settings).start()
    except ReadyFileError as exc:
        message = f"cannot write the ready file {exc.filename}: {exc.strerror}"
        return _fail("transflow-status local", message, EXIT_ERROR)
    except (AssemblyError, TemplateError) as exc:
        return _fail("transflow-status local", exc, EXIT_ERROR)
    except BindError as exc:
        return _fail("transflow-status local", f"cannot serve on {args.host}:{args.port}: {exc.strerror}", EXIT_ERROR)
    try:
        info = stack.info
        from .local.demo import DEMO_USER

        demo_ids: list[str] = []
        if settings.demo:
            from .local.demo import run_demo
            from .store import StatusStore

            demo_ids = run_demo(StatusStore(info["table_name"], client=stack.client("dynamodb")),
                                template_id=info["demo_template"], stop=stopped)
        _print_banner(info, stack.mint(DEMO_USER), demo_ids, quiet=args.quiet)
        while not stopped.wait(0.5):
            pass
    finally:
        stack.stop()
        if not args.quiet:
            print("transflow-status local: stopped.", flush=True)
    return EXIT_OK


def _print_banner(info: dict[str, Any], token: str | None, demo_ids: list[str], *, quiet: bool) -> None:
    api = info["api_url"]
    if quiet:
        print(api, flush=True)
        if info.get("unsupported"):  # never silently skipped, even when quiet
            sys.stderr.write("transflow-status local: not emulated: " + "; ".join(info["unsupported"]) + "\n")
        return
    example = demo_ids[0] if demo_ids else "<assembly id>"
    page = f"{api}/" + (f"#token={token}" if token else "")
    lines = [
        "Transflow local mode — everything in memory, nothing leaves this machine.",
        f"  Stack              {info['stack']} (TransflowStatus {info['instance']})",
        f"  Ready in           {info['startup_seconds']} s (template read to serving"
        + (f"; the default stack's synthesis took {info['synth_seconds']} s of it)" if info.get("synth_seconds")
           else ")"),
        f"  API URL            {api}",
        f"  Status page        {page}",
        f"  AWS endpoint       {info['aws_endpoint_url']}  (for boto3 / StatusStore / StatusLambdaClient)",
        f"  Table              {info['table_name']}",
        f"  Status function    {info['status_function_name']}",
    ]
    if info.get("inbox_url"):
        lines.append(f"  Webhook inbox      {info['inbox_url']}  (deliveries verified and shown on the status page)")
    if info.get("event_bus_arn"):
        lines.append(f"  Event bus          {info['event_bus_arn']}  (assembly events on moto's EventBridge)")
    if info.get("notify_url_secret"):
        lines.append(f"  notify_url secret  {info['notify_url_secret']}  (signs per-assembly notify_url deliveries)")
    if info.get("oidc_issuer"):
        lines.append(f"  OIDC issuer        {info['oidc_issuer']}")
    if info.get("unsupported"):
        lines.append("  Not emulated:      " + "; ".join(info["unsupported"]))
    if info.get("exposed"):
        minting = ("other machines can mint tokens too (--allow-remote-tokens)" if info.get("remote_tokens")
                   else "tokens are minted for this machine only")
        lines.append(f"  WARNING            serving on every interface ({info['host']}): anyone on your network can "
                     f"reach the API and the AWS endpoint; {minting}")
    lines.append("")
    if token:
        lines += [f"Development token for user demo-user (12 h); more: transflow-status token --api {api} --user NAME",
                  f"  export TOKEN={token}", ""]
    else:
        lines += ["The JWT authorizer trusts an external issuer: use a token it issued.", ""]
    lines += [
        "Point boto3 (a worker's StatusStore, StatusLambdaClient) at it with local mode's credentials:",
        f"  export AWS_ENDPOINT_URL={info['aws_endpoint_url']} AWS_REGION={info['region']} "
        f"AWS_DEFAULT_REGION={info['region']} "
        f"AWS_ACCESS_KEY_ID={info['aws_access_key_id']} AWS_SECRET_ACCESS_KEY='{info['aws_secret_access_key']}' "
        f"TRANSFLOW_TABLE_NAME={info['table_name']}",
        "",
        "Try:",
        f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/status?assemblyId={example}'",
        f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/assemblies?limit=10'",
        f"  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        f"-d '{{\"assemblyIds\": [\"{example}\"]}}' '{api}/status/batch'",
        f"  transflow-status watch {example} --api {api} --token $TOKEN",
    ]
    if demo_ids:
        lines += ["", "Demo assemblies (two complete, one fails):", *[f"  {i}" for i in demo_ids]]
    lines += ["", "Function logs (status checks, webhook attempts): restart with --verbose.",
              "Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


# ---------------------------------------------------------------------------------------------- watch
def _bar(fraction: float, width: int = 28) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def render_progress(status: Any) -> str:
    """One line: bar, state, steps, bytes, results, message."""
    data = status.model_dump() if hasattr(status, "model_dump") else dict(status)
    pct = data.get("progress_pct")
    total, done = data.get("steps_total"), data.get("steps_completed") or 0
    if pct is None:
        pct = 100.0 * done / total if total else 0.0
    results = sum(len(v) for v in (data.get("results") or {}).values())
    # A seed-style writer's item has no state: show what ok/error say instead.
    phase = terminal_event(data) or str(data.get("state") or "executing").replace("ASSEMBLY_", "").lower()
    parts = [_bar(pct / 100.0), f"{pct:5.1f}%", phase]
    if total:
        parts.append(f"steps {done}/{total}")
    if data.get("bytes_expected"):
        parts.append(f"bytes {data.get('bytes_received') or 0:,}/{data['bytes_expected']:,}")
    parts.append(f"results {results}")
    if data.get("message"):
        parts.append(f"- {data['message']}")
    return " ".join(parts)


def cmd_watch(args: argparse.Namespace) -> int:
    from .clients import StatusClient, StatusClientError

    tty = sys.stdout.isatty()
    last_line = ""

    def on_update(status: Any) -> None:
        nonlocal last_line
        line = render_progress(status)
        if line != last_line:
            if tty:
                sys.stdout.write("\r\x1b[2K" + line)
            else:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
            last_line = line

    prog = "transflow-status watch"
    client = StatusClient(args.api, token=args.token)
    try:
        final = client.wait(args.assembly_id, on_update=on_update, timeout=args.timeout)
    except TimeoutError as exc:
        sys.stdout.write("\n" if tty else "")
        cause = str(exc).partition("; ")[2]
        return _fail(prog, f"gave up after {args.timeout} s" + (f" ({cause})" if cause else ""), EXIT_ERROR)
    except StatusClientError as exc:
        sys.stdout.write("\n" if tty else "")
        # 400: the service refused the id itself (a usage error); anything else is operational.
        return _fail(prog, exc, EXIT_USAGE if exc.status_code == 400 else EXIT_ERROR)
    if tty:
        sys.stdout.write("\n")
    duration = f" in {final.execution_duration:.1f}s" if final.execution_duration else ""
    event = final.terminal_event  # terminal.py: the same rule as the dispatcher's
    if event == "completed":
        results = sum(len(v) for v in final.results.values())
        print(f"✅ Completed{duration}: {results} result file(s)")
        for step, items in final.results.items():
            for item in items:
                print(f"   {step}: {item.name} {item.ssl_url}")
        return EXIT_OK
    if event == "canceled":
        print(f"⏹ Canceled{duration}")
        return EXIT_CANCELED
    print(f"❌ Failed{duration}: {final.error} — {final.message}")
    return EXIT_FAILED


# ---------------------------------------------------------------------------------------------- redrive
def cmd_redrive(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sqs = boto3.client("sqs", region_name=args.region) if args.region else boto3.client("sqs")
        kwargs: dict[str, Any] = {"SourceArn": args.dlq_arn}
        if args.queue_arn:
            kwargs["DestinationArn"] = args.queue_arn
        if args.max_per_second:
            kwargs["MaxNumberOfMessagesPerSecond"] = args.max_per_second
        task = sqs.start_message_move_task(**kwargs)
        print(json.dumps({"task_handle": task["TaskHandle"]}))
        while True:
            tasks = sqs.list_message_move_tasks(SourceArn=args.dlq_arn, MaxResults=1).get("Results", [])
            if not tasks or tasks[0].get("Status") != "RUNNING":
                print(json.dumps(tasks[0] if tasks else {}, default=str))
                return EXIT_OK if tasks and tasks[0].get("Status") == "COMPLETED" else EXIT_ERROR
            time.sleep(2)
    except (ClientError, BotoCoreError) as exc:  # refused, no credentials, ...: one line, not a traceback
        return _fail("transflow-status redrive", exc, EXIT_ERROR)


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 ok, 1 the assembly failed, 3 it was canceled, 2 a usage error, 4 an auth,
    connection or time-out problem (or anything else that went wrong); errors are one line on
    stderr, never a traceback (``TRANSFLOW_DEBUG=1`` shows one)."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args = build_parser().parse_args(argv)
    handlers = {"local": cmd_local, "token": cmd_token, "watch": cmd_watch, "redrive": cmd_redrive}
    prog = f"transflow-status {args.command}"
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (UsageError, ValueError) as exc:  # arguments that parse but cannot be used
        if os.environ.get("TRANSFLOW_DEBUG"):
            raise
        return _fail(prog, exc, EXIT_USAGE)
    except Exception as exc:
        if os.environ.get("TRANSFLOW_DEBUG"):
            raise
        return _fail(prog, f"{type(exc).__name__}: {exc}", EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
