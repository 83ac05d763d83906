"""IAM as AWS evaluates it, where moto's evaluator alone does not ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html;
"IAM JSON policy elements: NotResource" and "Action": action names are case-insensitive, ``*`` and
``?`` are wildcards), and the requests whose action and resource local mode derives: a queue URL
that names one queue to the check and another to moto is refused ("Amazon SQS queue and message
identifiers": ``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``)."""

from __future__ import annotations

import json

import pytest
from transflow_runtime.local import iam

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/status"
INDEX = TABLE + "/index/by-user-created"
QUEUE_URL = "http://127.0.0.1:8787/123456789012/webhooks"


def _identity(*statements: dict) -> iam.Identity:
    return iam.new_identity(
        "fn",
        "arn:aws:sts::123456789012:assumed-role/r/fn",
        session=True,
        policies=[{"Version": "2012-10-17", "Statement": list(statements)}],
    )


ALLOW_ALL_DYNAMODB = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": [TABLE, INDEX]}


def test_a_deny_with_not_resource_denies_everything_but_those_resources():
    identity = _identity(ALLOW_ALL_DYNAMODB, {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": TABLE})
    assert iam.decide(identity, "dynamodb:GetItem", TABLE) is None
    assert iam.decide(identity, "dynamodb:Query", INDEX) == "with an explicit deny in an identity-based policy"


def test_an_allow_with_not_resource_allows_only_the_other_resources():
    identity = _identity({"Effect": "Allow", "Action": "dynamodb:Query", "NotResource": INDEX})
    assert iam.decide(identity, "dynamodb:Query", TABLE) is None
    assert iam.decide(identity, "dynamodb:Query", INDEX) is not None


def test_actions_match_case_insensitively_and_question_mark_is_one_character():
    lower = _identity({"Effect": "Allow", "Action": "dynamodb:query", "Resource": INDEX})
    assert iam.decide(lower, "dynamodb:Query", INDEX) is None
    single = _identity({"Effect": "Allow", "Action": "dynamodb:?etItem", "Resource": TABLE})
    assert iam.decide(single, "dynamodb:GetItem", TABLE) is None
    assert iam.decide(single, "dynamodb:BatchGetItem", TABLE) is not None


def test_a_statement_without_resource_grants_nothing_and_an_explicit_deny_still_wins():
    assert iam.decide(_identity({"Effect": "Allow", "Action": "dynamodb:*"}), "dynamodb:GetItem", TABLE) is not None
    denied = _identity(ALLOW_ALL_DYNAMODB, {"Effect": "Deny", "Action": "dynamodb:Query", "Resource": INDEX})
    assert iam.decide(denied, "dynamodb:Query", INDEX) == "with an explicit deny in an identity-based policy"


def test_get_caller_identity_needs_no_permission():
    """STS GetCallerIdentity: "No permissions are required to perform this operation"."""
    assert iam.decide(_identity(), "sts:GetCallerIdentity", "*") is None


@pytest.mark.parametrize(
    "url",
    [
        QUEUE_URL + "#/dead-letters",
        QUEUE_URL + "?/dead-letters",
        QUEUE_URL + "/dead-letters",
        QUEUE_URL + ";/dead-letters",
        "http://127.0.0.1:8787/dead-letters",
        QUEUE_URL + "/",
    ],
)
def test_a_queue_url_that_is_not_exactly_account_and_name_is_refused(url):
    """moto acts on the URL's last ``/`` segment; the check must see the same queue, so a URL that
    is not ``scheme://host/ACCOUNT/NAME`` is refused before either runs."""
    names = iam.ResourceNames("us-east-1", "123456789012")
    body = json.dumps({"QueueUrl": url, "MessageBody": "x"}).encode()
    with pytest.raises(iam.RequestError) as refused:
        iam.operation("sqs", "POST", "/", {"X-Amz-Target": "AmazonSQS.SendMessage"}, body, names)
    assert refused.value.code in ("QueueDoesNotExist", "InvalidAddress")
    form = f"Action=SendMessage&QueueUrl={url.replace('#', '%23').replace('?', '%3F')}&MessageBody=x".encode()
    with pytest.raises(iam.RequestError):
        iam.operation("sqs", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, form, names)


def test_a_well_formed_queue_url_or_name_names_its_queue():
    names = iam.ResourceNames("us-east-1", "123456789012")
    body = json.dumps({"QueueUrl": QUEUE_URL}).encode()
    found = iam.operation("sqs", "POST", "/", {"X-Amz-Target": "AmazonSQS.ReceiveMessage"}, body, names)
    assert found is not None and found.resources == ["arn:aws:sqs:us-east-1:123456789012:webhooks"]
    assert names.queue("webhooks.fifo") == "arn:aws:sqs:us-east-1:123456789012:webhooks.fifo"
