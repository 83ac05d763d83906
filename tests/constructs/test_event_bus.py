"""``event_bus=``: the bus's ARN reaches the functions that produce and put assembly events, the
webhook function alone may ``events:PutEvents``, on that bus alone, and an alarm watches failed puts.

IAM: Amazon EventBridge User Guide, "Using identity-based policies for Amazon EventBridge" — the
``events:PutEvents`` action is authorized on the ``event-bus`` resource (``arn:aws:events:REGION:
ACCOUNT:event-bus/NAME``). The policies are evaluated with moto's IAM evaluator
(``moto.iam.access_control.IAMPolicy``), not read as text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_events as events
from moto.iam.access_control import IAMPolicy, PermissionResult
from transflow_runtime import schema

from transflow_constructs import TransflowStatus
from transflow_constructs.event_bus import ALARM_ID, ALARM_KEY, check_event_bus

from .cdk_helpers import Synth, of_type, oidc_auth, role_statements, synth

BUS_NAME = "assembly-events"
BUS_ARN = f"arn:aws:events:us-east-1:123456789012:event-bus/{BUS_NAME}"
OTHER_BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/someone-elses"
DEFAULT_BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/default"


def _with_bus(stack: Any) -> TransflowStatus:
    bus = events.EventBus(stack, "Bus", event_bus_name=BUS_NAME)
    return TransflowStatus(stack, "Status", auth=oidc_auth(), event_bus=bus)


@pytest.fixture(scope="module")
def with_bus() -> Synth:
    return synth(_with_bus)


@pytest.fixture(scope="module")
def without_bus() -> Synth:
    return synth(lambda stack: TransflowStatus(stack, "Status", auth=oidc_auth()))


def _function_ids(s: Synth) -> dict[str, str]:
    """``{part: logical id}`` of every function."""
    return {
        r["Metadata"]["transflow:part"]: lid
        for lid, r in of_type(s.template, "AWS::Lambda::Function").items()
        if "transflow:part" in (r.get("Metadata") or {})
    }


def _bus_logical_id(s: Synth) -> str:
    (bus_id,) = of_type(s.template, "AWS::Events::EventBus")
    return bus_id


def _allowed(s: Synth, function_id: str, action: str, resource: str) -> bool:
    """moto's evaluator over the role's statements, with the bus's GetAtt resolved to its ARN."""
    bus_id = _bus_logical_id(s) if of_type(s.template, "AWS::Events::EventBus") else None
    text = json.dumps({"Version": "2012-10-17", "Statement": role_statements(s.template, function_id)})
    if bus_id is not None:
        text = text.replace(json.dumps({"Fn::GetAtt": [bus_id, "Arn"]}), json.dumps(BUS_ARN))
    result = IAMPolicy(text).is_action_permitted(action, resource)
    return result == PermissionResult.PERMITTED


def test_the_bus_arn_reaches_the_dispatcher_status_and_webhook_functions(with_bus: Synth) -> None:
    bus_arn = {"Fn::GetAtt": [_bus_logical_id(with_bus), "Arn"]}
    functions = of_type(with_bus.template, "AWS::Lambda::Function")
    for part, lid in _function_ids(with_bus).items():
        env = functions[lid]["Properties"]["Environment"]["Variables"]
        if part in ("dispatcher-function", "status-function", "webhook-function"):
            assert env[schema.ENV_EVENT_BUS_ARN] == bus_arn, part
        else:
            assert schema.ENV_EVENT_BUS_ARN not in env, part


def test_only_the_webhook_function_may_put_events_and_only_on_that_bus(with_bus: Synth) -> None:
    ids = _function_ids(with_bus)
    webhook = ids["webhook-function"]
    assert _allowed(with_bus, webhook, "events:PutEvents", BUS_ARN)
    assert not _allowed(with_bus, webhook, "events:PutEvents", OTHER_BUS_ARN)
    assert not _allowed(with_bus, webhook, "events:PutEvents", DEFAULT_BUS_ARN)
    assert not _allowed(with_bus, webhook, "events:PutRule", BUS_ARN)
    assert not _allowed(with_bus, webhook, "events:PutTargets", BUS_ARN)
    for part, lid in ids.items():
        if part != "webhook-function":
            assert not _allowed(with_bus, lid, "events:PutEvents", BUS_ARN), part
    statements = [s for s in role_statements(with_bus.template, webhook) if "events:PutEvents" in json.dumps(s)]
    assert statements == [
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_bus_logical_id(with_bus), "Arn"]},
            "Sid": "PutAssemblyEvents",
        }
    ]


def test_without_a_bus_there_is_no_event_setting_permission_or_alarm(without_bus: Synth) -> None:
    for lid, function in of_type(without_bus.template, "AWS::Lambda::Function").items():
        assert schema.ENV_EVENT_BUS_ARN not in function["Properties"]["Environment"]["Variables"]
        assert "events:" not in json.dumps(role_statements(without_bus.template, lid))
    assert ALARM_KEY not in without_bus.status.alarms
    assert without_bus.status.event_bus is None


def test_failed_puts_alarm_selects_this_instance(with_bus: Synth) -> None:
    """The alarm counts the webhook function's ``EventBridgeEvents`` with outcome retrying or failed,
    of this instance only (CONTRACTS C: every handler metric carries the ``Instance`` dimension)."""
    alarm = with_bus.status.alarms[ALARM_KEY]
    assert alarm.node.id == ALARM_ID
    resource = with_bus.template["Resources"][with_bus.stack.get_logical_id(alarm.node.default_child)]
    metrics = [m for m in resource["Properties"]["Metrics"] if "MetricStat" in m]
    assert {m["Id"] for m in metrics} == {"retrying", "failed"}
    instance = with_bus.resolve(with_bus.status.instance_id)
    for m in metrics:
        metric = m["MetricStat"]["Metric"]
        assert metric["MetricName"] == schema.METRIC_EVENTBRIDGE_EVENTS
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dims == {schema.METRIC_INSTANCE_DIMENSION: instance, schema.METRIC_WEBHOOK_DIMENSION: m["Id"]}
    assert resource["Properties"]["Threshold"] == 0
    assert resource["Properties"]["TreatMissingData"] == "notBreaching"


def test_alarm_logical_id_is_pinned(with_bus: Synth) -> None:
    """Construct ids are a contract: the only resource this option adds is the alarm."""
    alarm = with_bus.status.alarms[ALARM_KEY]
    assert alarm.node.path == "TestStack/Status/Monitoring/EventBusPutFailuresAlarm"


def test_imported_buses_work_by_arn(with_bus: Synth) -> None:
    def build(stack: Any) -> TransflowStatus:
        bus = events.EventBus.from_event_bus_arn(stack, "Imported", OTHER_BUS_ARN)
        return TransflowStatus(stack, "Status", auth=oidc_auth(), event_bus=bus)

    s = synth(build)
    webhook = _function_ids(s)["webhook-function"]
    assert _allowed(s, webhook, "events:PutEvents", OTHER_BUS_ARN)
    assert not _allowed(s, webhook, "events:PutEvents", BUS_ARN)


@pytest.mark.parametrize("value", [BUS_NAME, BUS_ARN, {"arn": BUS_ARN}, 3])
def test_event_bus_must_be_an_ievent_bus(value: Any) -> None:
    with pytest.raises(ValueError, match=r"event_bus must be an events\.IEventBus"):
        check_event_bus(value)


def test_readme_example_rule_sends_completed_assemblies_to_a_queue() -> None:
    """examples/event_bus_app.py (the README's example): a rule on the construct's bus matching
    ``source`` transflow.status and ``detail-type`` Assembly Completed, with the queue as target."""
    from aws_cdk import assertions

    template = assertions.Template.from_stack(event_bus_example_stack()).to_json()
    (bus_id,) = of_type(template, "AWS::Events::EventBus")
    (rule,) = of_type(template, "AWS::Events::Rule").values()
    (queue_id,) = [lid for lid in of_type(template, "AWS::SQS::Queue") if lid.startswith("CompletedAssemblies")
                   and not lid.startswith("CompletedAssembliesDlq")]
    props = rule["Properties"]
    assert props["EventBusName"] == {"Ref": bus_id}
    assert props["EventPattern"] == {"source": ["transflow.status"], "detail-type": ["Assembly Completed"]}
    assert [t["Arn"] for t in props["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    from .cdk_helpers import cfn_lint_errors

    assert cfn_lint_errors(template) == []


def test_the_event_bus_example_has_no_unacknowledged_cdk_nag_findings() -> None:
    """The README's example, as users copy it: cdk-nag AwsSolutions as the suite runs it on app.py
    (SQS3: the rule's queue has a dead-letter queue; SMG4: each secret says why it is not rotated)."""
    from .cdk_helpers import nag_findings

    assert nag_findings(event_bus_example_stack()) == []


def event_bus_example_stack() -> Any:
    """examples/event_bus_app.py's stack (bundling skipped)."""
    import importlib.util

    import aws_cdk as cdk

    from .cdk_helpers import REPO, SKIP_BUNDLING

    spec = importlib.util.spec_from_file_location("event_bus_app", REPO / "examples" / "event_bus_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(cdk.App(context=dict(SKIP_BUNDLING)))
