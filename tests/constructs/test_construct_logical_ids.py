"""The logical ids of the stateful resources and of both event source mappings are a contract.

CloudFormation identifies a resource by its logical id: a template in which one changes is read as
"delete the old resource, create a new one" (AWS CloudFormation User Guide, "Update behaviors of
stack resources" and "Resources" template section: the logical ID "is used to reference the
resource in other parts of the template"; renaming it replaces the resource). For the table that
means a new, empty table (or a failed update with a retained one in the way); for a queue, lost
messages; for the stream's event source mapping a new mapping that starts reading the stream again
(up to 24 hours of records with ``TRIM_HORIZON``). The ids below are literal on purpose: a
refactoring that moves one of these constructs fails here instead of replacing it on the user's
next deploy.
"""

from __future__ import annotations

import pytest

from .cdk_helpers import Synth

#: (logical id, CloudFormation type) of every resource whose replacement loses data or replays
#: webhooks, as released.
PINNED = {
    "StatusTable2516169B": "AWS::DynamoDB::Table",
    "StatusWebhooksQueueB51BB969": "AWS::SQS::Queue",
    "StatusWebhooksDeadLetterQueue3A2DE596": "AWS::SQS::Queue",
    "StatusWebhooksStreamFailureQueueC2FFFBA0": "AWS::SQS::Queue",
    "StatusStreamMappingD14E946C": "AWS::Lambda::EventSourceMapping",
    "StatusWebhookQueueMapping39A3D1AC": "AWS::Lambda::EventSourceMapping",
    # Retained log groups: a new logical id would orphan the old group and start an empty one.
    "StatusStatusFunctionLogs40429A1A": "AWS::Logs::LogGroup",
    "StatusDispatcherFunctionLogs440827ED": "AWS::Logs::LogGroup",
    "StatusWebhookFunctionLogs14D0EBB6": "AWS::Logs::LogGroup",
    "StatusApiAccessLogsE4CB74F1": "AWS::Logs::LogGroup",
}
PINNED_SHARED_SECRET = {**PINNED, "StatusAuthorizerFunctionLogs83021DFF": "AWS::Logs::LogGroup"}


@pytest.mark.parametrize("logical_id", sorted(PINNED))
def test_stateful_resources_keep_their_logical_ids(oidc: Synth, logical_id: str) -> None:
    resources = oidc.template["Resources"]
    assert logical_id in resources, f"{logical_id} was renamed: CloudFormation would replace it"
    assert resources[logical_id]["Type"] == PINNED[logical_id]


def test_shared_secret_variant_keeps_the_authorizer_log_group_id_too(shared: Synth) -> None:
    resources = shared.template["Resources"]
    assert {k: resources[k]["Type"] for k in PINNED_SHARED_SECRET if k in resources} == PINNED_SHARED_SECRET


def test_the_parts_expose_the_pinned_resources(oidc: Synth) -> None:
    """The pinned ids belong to the parts users reach through the construct's properties."""
    status = oidc.status
    by_part = {
        "StatusTable2516169B": status.table,
        "StatusWebhooksQueueB51BB969": status.webhook_queue,
        "StatusWebhooksDeadLetterQueue3A2DE596": status.dead_letter_queue,
        "StatusWebhooksStreamFailureQueueC2FFFBA0": status.stream_failure_queue,
        "StatusStreamMappingD14E946C": status.stream_mapping,
        "StatusWebhookQueueMapping39A3D1AC": status.webhook_mapping,
    }
    for logical_id, part in by_part.items():
        assert oidc.stack.get_logical_id(part.node.default_child) == logical_id
