"""Every metric and log line carries its instance (CONTRACTS.md C) when ``TRANSFLOW_INSTANCE_ID`` is set.

Amazon CloudWatch User Guide, "Specification: Embedded metric format": each name in a
``Dimensions`` set must be a top-level member of the document with a string value; CloudWatch
treats each unique combination of dimensions as a separate metric, so the construct's alarms (which
select ``Instance``) only see the metrics of their own instance.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from transflow_runtime import assembly_id, schema, telemetry
from transflow_runtime.handlers import dispatcher

from tests.runtime.webhook_receivers import stream_records

INSTANCE = "transflow-prod/Status"


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Any:
    buffer = io.StringIO()
    telemetry.configure(stream=buffer)

    def read() -> list[dict[str, Any]]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield read
    telemetry.configure()


def test_every_metric_has_the_instance_as_its_first_dimension(monkeypatch, lines) -> None:
    monkeypatch.setenv(schema.INSTANCE_ID_ENV, INSTANCE)
    record = telemetry.metric_record("Transflow", {"WebhookDeliveries": 1}, dimensions={"Outcome": "delivered"})
    telemetry.write(record)
    [line] = lines()
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[schema.METRIC_INSTANCE_DIMENSION, "Outcome"]]
    assert line[schema.METRIC_INSTANCE_DIMENSION] == INSTANCE and line["Outcome"] == "delivered"


def test_every_plain_log_line_carries_the_instance(monkeypatch, lines) -> None:
    monkeypatch.setenv(schema.INSTANCE_ID_ENV, INSTANCE)
    telemetry.write({"level": "info", "message": "hello"})
    assert lines() == [{schema.METRIC_INSTANCE_DIMENSION: INSTANCE, "level": "info", "message": "hello"}]


def test_without_the_variable_nothing_changes(monkeypatch, lines) -> None:
    monkeypatch.delenv(schema.INSTANCE_ID_ENV, raising=False)
    telemetry.write(telemetry.metric_record("Transflow", {"StatusChecks": 1}, dimensions={"Result": "found"}))
    telemetry.write({"message": "x"})
    metric, plain = lines()
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Result"]]
    assert schema.METRIC_INSTANCE_DIMENSION not in metric and plain == {"message": "x"}


def test_the_instance_is_read_at_each_write(monkeypatch, lines) -> None:
    """Local mode runs every function in one process and switches the environment between them."""
    for instance in ("dev/Status", "prod/Status"):
        monkeypatch.setenv(schema.INSTANCE_ID_ENV, instance)
        telemetry.write(telemetry.metric_record("Transflow", {"WebhookEventsQueued": 1}))
    assert [line[schema.METRIC_INSTANCE_DIMENSION] for line in lines()] == ["dev/Status", "prod/Status"]


def test_a_handler_s_metrics_and_logs_carry_the_instance(store, dynamodb, table_name, sqs, monkeypatch, lines) -> None:
    """The dispatcher, run on moto: its per-batch metric is dimensioned by the instance alone (the
    construct's 'Stream dispatcher' widget selects exactly that), every line names the instance."""
    monkeypatch.setattr(dispatcher, "_sqs_client", None)
    monkeypatch.setenv(schema.INSTANCE_ID_ENV, INSTANCE)
    monkeypatch.setenv(schema.ENV_WEBHOOK_QUEUE_URL, sqs.create_queue(QueueName="instance-hooks")["QueueUrl"])
    ident = assembly_id("cd" * 16, "tpl", "bob")
    store.create(ident, user_id="bob", template_id="tpl")
    store.complete(ident)
    dispatcher.handler({"Records": stream_records(dynamodb, table_name)})
    written = lines()
    assert written and all(line[schema.METRIC_INSTANCE_DIMENSION] == INSTANCE for line in written)
    [batch] = [line for line in written if "_aws" in line]
    assert batch["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[schema.METRIC_INSTANCE_DIMENSION]]
