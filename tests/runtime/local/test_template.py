"""Reading templates: intrinsic functions as CloudFormation resolves them ("Intrinsic function
reference"), instances found by their part metadata only, and IAM policies evaluated as IAM does
("Policy evaluation logic": an explicit Deny wins, wildcards ``*`` and ``?``)."""

from __future__ import annotations

import json

import pytest
from transflow_runtime.local import assembly, iam
from transflow_runtime.local.intrinsics import NO_VALUE, IntrinsicResolver, TemplateError, pseudo_parameters

TEMPLATE = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "Needed": {"Type": "String"},
        "Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/version"},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
    },
    "Mappings": {"Sizes": {"dev": {"memory": 128}}},
    "Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "Queue": {"Type": "AWS::SQS::Queue"}},
}


def _resolver(parameters: dict | None = None) -> IntrinsicResolver:
    values = {
        ("Table", None): "t-name",
        ("Table", "Arn"): "arn:aws:dynamodb:eu-west-1:123456789012:table/t-name",
        ("Queue", None): "https://q/1/queue",
    }

    def attributes(logical_id: str, attribute: str | None):
        return values[(logical_id, attribute)]

    return IntrinsicResolver(
        TEMPLATE,
        attributes=attributes,
        parameters=parameters,
        pseudo=pseudo_parameters(region="eu-west-1", account_id="123456789012", stack_name="S"),
    )


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Table"}, "t-name"),
        ({"Fn::GetAtt": ["Table", "Arn"]}, "arn:aws:dynamodb:eu-west-1:123456789012:table/t-name"),
        ({"Fn::GetAtt": "Table.Arn"}, "arn:aws:dynamodb:eu-west-1:123456789012:table/t-name"),
        (
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Table", "Arn"]}, "/index/by-user"]]},
            "arn:aws:dynamodb:eu-west-1:123456789012:table/t-name/index/by-user",
        ),
        (
            {"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Table}/${Table.Arn}"},
            "arn:aws:x:eu-west-1:123456789012:t-name/arn:aws:dynamodb:eu-west-1:123456789012:table/t-name",
        ),
        ({"Fn::Sub": ["${Name}-${!Literal}", {"Name": {"Ref": "Env"}}]}, "dev-${Literal}"),
        ({"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "Queue"}]}]}, ""),
        ({"Fn::Select": [3, {"Fn::Split": ["/", {"Ref": "Queue"}]}]}, "1"),
        ({"Fn::Select": [1, {"Ref": "Zones"}]}, "b"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::If": ["NotProd", "small", {"Ref": "AWS::NoValue"}]}, "small"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "memory"]}, 128),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"k": {"Ref": "AWS::NoValue"}, "j": 1}, {"j": 1}),
    ],
)
def test_intrinsics_resolve_as_cloudformation_does(node, expected):
    assert _resolver().resolve(node) == expected


@pytest.mark.parametrize(
    "node",
    [
        {"Fn::Select": [-1, {"Ref": "Zones"}]},  # "Fn::Select": the index is 0 or greater
        {"Fn::Select": [2, {"Ref": "Zones"}]},
        {"Fn::Sub": "${Zones}"},  # "Fn::Sub": a variable's value must be a string, not a list
    ],
)
def test_intrinsics_cloudformation_refuses_are_refused(node):
    with pytest.raises(TemplateError):
        _resolver().resolve(node)


def test_parameters_take_overrides_then_defaults_and_name_what_is_missing():
    assert _resolver({"Env": "prod"}).resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    with pytest.raises(TemplateError, match="--parameter Needed=VALUE"):
        _resolver().resolve({"Ref": "Needed"})
    with pytest.raises(TemplateError, match="--parameter Version=VALUE"):
        _resolver().resolve({"Ref": "Version"})  # an SSM lookup happens at deploy time
    with pytest.raises(TemplateError, match="does not declare"):
        _resolver({"Nope": "1"})
    with pytest.raises(TemplateError, match="ImportValue"):
        _resolver().resolve({"Fn::ImportValue": "other-stack-export"})
    assert _resolver().resolve([{"Ref": "AWS::NoValue"}, 1]) == [1]
    assert NO_VALUE is not None


# ------------------------------------------------------------------------------------- instances
def _assembly(tmp_path, stacks: dict[str, dict]) -> str:
    artifacts = {}
    for name, template in stacks.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    return str(tmp_path)


def _marked(instance: str, part: str, kind: str = "AWS::Lambda::Function") -> dict:
    return {"Type": kind, "Metadata": {"transflow:instance": instance, "transflow:part": part}}


def test_an_instance_is_found_by_metadata_among_the_users_resources(tmp_path):
    template = {
        "Resources": {
            "Theirs": {"Type": "AWS::S3::Bucket"},
            "X1": _marked("abc123", "status-function"),
            "Y2": _marked("abc123", "table", "AWS::DynamoDB::Table"),
        }
    }
    stack, instance = assembly.load(_assembly(tmp_path, {"App": template, "Other": {"Resources": {}}}))
    assert stack.name == "App" and instance.address == "abc123"
    assert instance.required("status-function") == "X1" and instance.one("table") == "Y2"


def test_no_instance_or_several_without_a_choice_is_a_clear_error(tmp_path):
    empty = tmp_path / "a"
    empty.mkdir()
    with pytest.raises(assembly.AssemblyError, match=r"no stack .* contains a TransflowStatus"):
        assembly.load(_assembly(empty, {"App": {"Resources": {}}}))
    two = {"Resources": {"A": _marked("first0", "status-function"), "B": _marked("second", "status-function")}}
    directory = tmp_path / "b"
    directory.mkdir()
    path = _assembly(directory, {"App": two})
    with pytest.raises(assembly.AssemblyError, match="--instance ADDR") as raised:
        assembly.load(path)
    assert "first0" in str(raised.value) and "second" in str(raised.value)
    assert assembly.load(path, instance="sec")[1].address == "second"
    both = tmp_path / "c"
    both.mkdir()
    with pytest.raises(assembly.AssemblyError, match="--stack NAME"):
        assembly.load(_assembly(both, {"One": two, "Two": two}))
    with pytest.raises(assembly.AssemblyError, match="not a cloud assembly"):
        assembly.load(tmp_path / "nothing-here")


# ------------------------------------------------------------------------------------- IAM
def _identity(*statements: dict) -> iam.Identity:
    return iam.new_identity(
        "fn",
        "arn:aws:sts::123456789012:assumed-role/r/fn",
        session=True,
        policies=[{"Version": "2012-10-17", "Statement": list(statements)}],
    )


TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t.name"


def test_allow_needs_a_matching_action_and_resource():
    identity = _identity({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE})
    assert iam.decide(identity, "dynamodb:GetItem", TABLE) is None
    assert "no identity-based policy allows the dynamodb:Query" in iam.decide(identity, "dynamodb:Query", TABLE)
    # a '.' in an ARN is a literal dot, not "any character"
    assert iam.decide(identity, "dynamodb:GetItem", TABLE.replace("t.name", "tXname")) is not None
    assert iam.decide(identity, "dynamodb:GetItem", TABLE + "/index/x") is not None


def test_an_explicit_deny_wins_over_any_allow_and_wildcards_match_as_iam_matches():
    identity = _identity(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/*"},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    )
    assert iam.decide(identity, "dynamodb:PutItem", TABLE) is None
    assert iam.decide(identity, "dynamodb:DeleteItem", TABLE) == "with an explicit deny in an identity-based policy"
    secret = _identity(
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-??????",
        }
    )
    assert (
        iam.decide(
            secret, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf"
        )
        is None
    )
    assert (
        iam.decide(
            secret, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEfG"
        )
        is not None
    )


def test_requests_name_the_action_and_resource_iam_checks():
    names = iam.ResourceNames("us-east-1", "123456789012")
    names.secrets["hook"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf"

    def op(target: str, params: dict, service: str = "dynamodb") -> iam.Operation:
        found = iam.operation(service, "POST", "/", {"X-Amz-Target": target}, json.dumps(params).encode(), names)
        assert found is not None
        return found

    query = op("DynamoDB_20120810.Query", {"TableName": "t", "IndexName": "by-user-created"})
    assert (query.action, query.resources) == (
        "dynamodb:Query",
        ["arn:aws:dynamodb:us-east-1:123456789012:table/t/index/by-user-created"],
    )
    batch = op("DynamoDB_20120810.BatchGetItem", {"RequestItems": {"a": {}, "b": {}}})
    assert batch.resources == [names.table("a"), names.table("b")]
    records = op("DynamoDBStreams_20120810.GetRecords", {"ShardIterator": f"{TABLE}/stream/2020|1|abc"})
    assert records.action == "dynamodb:GetRecords" and records.resources == [f"{TABLE}/stream/2020"]
    send = op("AmazonSQS.SendMessageBatch", {"QueueUrl": "http://127.0.0.1:1/123456789012/q"}, "sqs")
    # "Amazon SQS API permissions": batch calls need the single-message action
    assert (send.action, send.resources) == ("sqs:SendMessage", ["arn:aws:sqs:us-east-1:123456789012:q"])
    secret = op("secretsmanager.GetSecretValue", {"SecretId": "hook"}, "secretsmanager")
    assert secret.resources == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf"]
    invoke = iam.operation("lambda", "POST", "/2015-03-31/functions/fn%3Aalias/invocations", {}, b"", names)
    assert invoke is not None and invoke.action == "lambda:InvokeFunction"


def test_a_denied_call_is_answered_with_awss_access_denied_exception():
    identity = _identity()
    op = iam.Operation("dynamodb", "Query", [TABLE], "json")
    status, headers, body = iam.access_denied(identity, op, TABLE, "because no identity-based policy allows it")
    payload = json.loads(body)
    assert status == 400 and headers["x-amzn-errortype"] == "AccessDeniedException"
    assert payload["__type"].endswith("#AccessDeniedException")
    assert payload["Message"].startswith(
        f"User: {identity.arn} is not authorized to perform: dynamodb:Query on resource"
    )


# ------------------------------------------------------------------------------------- bad assemblies
def _copy_of_an_assembly(tmp_path, template: dict | None = None) -> tuple[str, dict]:
    template = template or {"Resources": {"X1": _marked("abc123", "status-function")}}
    return _assembly(tmp_path, {"App": template}), template


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "manifest.json").write_text("{not json"), r"manifest.json: the cloud assembly manifest is not"),
        (lambda d: (d / "manifest.json").write_text("[]"), r"manifest.json: the manifest is not a JSON object"),
        (lambda d: (d / "App.template.json").unlink(), r"App.template.json: the stack template is missing"),
        (lambda d: (d / "App.template.json").write_text("[1,2"), r"App.template.json: the stack template is not"),
        (lambda d: (d / "App.template.json").write_text("[1,2]"), r"App.template.json: the stack template is not a"),
    ],
)
def test_a_damaged_assembly_is_one_error_naming_the_file(tmp_path, damage, expected):
    directory, _ = _copy_of_an_assembly(tmp_path)
    damage(tmp_path)
    with pytest.raises(assembly.AssemblyError, match=expected) as raised:
        assembly.load(directory)
    assert "\n" not in str(raised.value)


def test_a_resource_lacking_a_required_property_is_named_with_it(moto_endpoint):
    """A table without AttributeDefinitions: a TemplateError naming the resource and the property
    (before: a KeyError traceback)."""
    import boto3
    from transflow_runtime.local.provision import Deployment

    template = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}}}}
    deployment = Deployment(
        assembly.StackTemplate(name="Broken", template=template),
        region="us-east-1",
        clients=lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1"),
        api_url="http://127.0.0.1:1",
    )
    with pytest.raises(TemplateError, match=r"^T \(AWS::DynamoDB::Table\) lacks the property AttributeDefinitions$"):
        deployment.attributes("T", None)


def test_the_cli_names_a_missing_template_instead_of_a_serving_problem(tmp_path):
    import subprocess
    import sys

    directory, _ = _copy_of_an_assembly(tmp_path)
    (tmp_path / "App.template.json").unlink()
    done = subprocess.run([sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--app", directory],
                          capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 4 and len(lines) == 1, done.stderr
    assert "App.template.json: the stack template is missing" in lines[0] and "cannot serve" not in lines[0]
