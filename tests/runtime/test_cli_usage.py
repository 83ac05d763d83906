"""Every ``transflow-status`` subcommand, run in a subprocess as a user runs it, with generated bad
arguments: one line on stderr, exit 2 (the README's usage-error code), never a traceback; and the
operational failures (unreachable API, a refused token) one line with exit 4."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pytest_httpserver import HTTPServer

from tests.runtime.status_support import aid

ID = aid(1)
BASES = {
    "token": ["token", "--secret", "s3cret", "--user", "alice"],
    "watch": ["watch", ID, "--api", "http://127.0.0.1:9", "--token", "tok"],
    "local": ["local", "--port", "0"],
    "redrive": ["redrive", "--dlq-arn", "arn:aws:sqs:us-east-1:123456789012:dlq"],
}
#: Bad values per option (each replaces the option's value in the base, or adds the option).
BAD_VALUES = {
    "token": {
        "--secret": ["", "   "],
        "--user": ["", " ", "x" * 1025, "é" * 513],
        "--ttl": ["0", "-1", "abc", "1.5", "", "1e3"],
        "--issuer": [""],
        "--audience": [""],
        "--api": ["ftp://x", "", "http://"],
    },
    "watch": {
        "--api": ["ftp://x", "", "http://", "http://host:99999", "localhost:8787", "http://[::1", "x"],
        "--token": ["", "  "],
        "--timeout": ["abc", "0", "-1", "nan", "inf", "", "-inf"],
    },
    "local": {
        "--port": ["abc", "-1", "65536", "", "1.5"],
        "--webhook": ["nope", "t=ftp://x", "=http://x", "t=http://", "t=https://:80/"],
        "--webhook-retry-delays": ["x", "1,x", "-1", "50000", ""],
        "--webhook-max-attempts": ["0", "abc", "-3"],
        "--jwt-secret": [""],
        "--webhook-secret": [""],
        "--host": [""],
        "--ready-file": [""],
        "--app": [""],
        "--stack": [""],
        "--instance": [""],
        "--oidc-issuer": ["ftp://x", "", "https://"],
        "--parameter": ["noequals", "=value"],
    },
    "redrive": {
        "--dlq-arn": ["", "nope", "arn:aws:sqs:us-east-1:123:q", "arn:aws:sns:us-east-1:123456789012:t",
                      "arn:aws:sqs::123456789012:q"],
        "--queue-arn": ["x", ""],
        "--max-per-second": ["0", "501", "abc"],
        "--region": [""],
    },
}


def with_value(base: list[str], option: str, value: str) -> list[str]:
    args = list(base)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def without(base: list[str], option: str) -> list[str]:
    index = base.index(option)
    return base[:index] + base[index + 2:]


def bad_invocations() -> list[tuple[str, list[str]]]:
    cases: list[tuple[str, list[str]]] = [("no command", []), ("unknown command", ["bogus"]),
                                          ("unknown global option", ["--bogus"])]
    for command, base in BASES.items():
        for option, values in BAD_VALUES[command].items():
            cases += [(f"{command} {option}={value!r}", with_value(base, option, value)) for value in values]
            cases.append((f"{command} {option} without a value", [*without(base, option), option]
                          if option in base else [*base, option]))
        for required in [a for a in base[1:] if a.startswith("--")]:
            if required not in ("--port",):
                cases.append((f"{command} without {required}", without(base, required)))
        cases.append((f"{command} unknown option", [*base, "--bogus"]))
        cases.append((f"{command} stray argument", [*base, "stray"]))
    cases.append(("watch without an id", [a for a in BASES["watch"] if a != ID]))
    cases.append(("watch with an empty id", with_positional(BASES["watch"], "")))
    return cases


def with_positional(base: list[str], value: str) -> list[str]:
    return [value if a == ID else a for a in base]


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.pop("TRANSFLOW_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "transflow_runtime.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=environment, stdin=subprocess.DEVNULL)


def assert_one_line_error(done: subprocess.CompletedProcess, code: int) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("transflow-status") and "error:" in lines[0], done.stderr
    return lines[0]


BAD = bad_invocations()


def test_every_subcommand_gets_a_generated_set_of_bad_arguments():
    for command in BASES:
        assert sum(1 for name, _ in BAD if name.startswith(command)) >= 10, command


@pytest.mark.parametrize(("name", "args"), BAD, ids=[name for name, _ in BAD])
def test_bad_arguments_print_one_line_and_exit_2(name, args):
    done = run(args, timeout=30)
    assert_one_line_error(done, 2)
    assert done.stdout == ""


def test_watch_against_an_unreachable_api_is_one_line_and_exit_4():
    line = assert_one_line_error(run([*BASES["watch"], "--timeout", "1"]), 4)
    assert "cannot reach the status API" in line


def test_watch_an_id_the_service_refuses_is_a_usage_error_and_a_refused_token_exit_4(httpserver: HTTPServer):
    httpserver.expect_request("/assemblies/abc").respond_with_json(
        {"error": "assemblyId is not a valid assembly id"}, status=400)
    httpserver.expect_request(f"/assemblies/{ID}").respond_with_json({"message": "Unauthorized"}, status=401)
    api = httpserver.url_for("/").rstrip("/")
    line = assert_one_line_error(run(["watch", "abc", "--api", api, "--token", "t"]), 2)
    assert "not a valid assembly id" in line
    assert_one_line_error(run(["watch", ID, "--api", api, "--token", "t"]), 4)


def test_redrive_against_an_unreachable_sqs_is_one_line_and_exit_4():
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1", "AWS_DEFAULT_REGION": "us-east-1"}
    assert_one_line_error(run(BASES["redrive"], env=env), 4)


def test_token_with_good_arguments_prints_a_token_and_a_short_secret_one_warning_line():
    done = run(with_value(BASES["token"], "--secret", "x" * 32))
    assert done.returncode == 0 and done.stdout.count(".") == 2 and done.stderr == ""
    short = run(BASES["token"])
    assert short.returncode == 0 and short.stdout.count(".") == 2
    assert len(short.stderr.splitlines()) == 1 and short.stderr.startswith("transflow-status token: warning: ")
