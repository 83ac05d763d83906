"""Review findings on the TransflowStatus construct, its packaging and CI (one test per definite bug).

Each test states what a correct construct/project does and is marked ``xfail(strict=True)`` until
the bug is fixed; fixing the bug turns the xfail into an XPASS, which fails the run so the marker
gets removed.
"""

from __future__ import annotations

import inspect
import tomllib
from typing import Any

import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from packaging.requirements import Requirement

from tests.constructs.cdk_helpers import REPO, new_stack, of_type, oidc_auth, plain_secret, synth
from transflow_constructs import StatusAuth, StatusMonitoring, TransflowStatus, WebhookTarget

STRING = dynamodb.AttributeType.STRING
#: Lambda: "the total size of all environment variables doesn't exceed 4 KB".
LAMBDA_ENV_LIMIT_BYTES = 4 * 1024


# ---- helpers -------------------------------------------------------------------------------------
def _table(stack: Any, **overrides: Any) -> dynamodb.Table:
    """A same-app table with everything the runtime needs, unless ``overrides`` says otherwise."""
    index_overrides = overrides.pop("index", {})
    props: dict[str, Any] = {
        "partition_key": dynamodb.Attribute(name="assembly_id", type=STRING),
        "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        "time_to_live_attribute": "ttl",
        **overrides,
    }
    table = dynamodb.Table(stack, "Existing", **props)
    index: dict[str, Any] = {
        "index_name": "by-user-created",
        "partition_key": dynamodb.Attribute(name="user_id", type=STRING),
        "sort_key": dynamodb.Attribute(name="created_at", type=STRING),
        **index_overrides,
    }
    table.add_global_secondary_index(**index)
    return table


def _with_table(table_factory: Any) -> None:
    stack = new_stack()
    TransflowStatus(stack, "Status", auth=oidc_auth(), table=table_factory(stack))


# ---- existing-table validation -------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "table.py check_existing_table never looks at the table's sort key: a table keyed "
        "(assembly_id, sk) is accepted, and every GetItem/UpdateItem with only assembly_id then fails "
        "with 'The provided key element does not match the schema' at runtime"
    ),
)
def test_existing_table_with_a_sort_key_is_refused() -> None:
    with pytest.raises(ValueError, match="sort key"):
        _with_table(lambda stack: _table(stack, sort_key=dynamodb.Attribute(name="sk", type=STRING)))


@pytest.mark.xfail(
    strict=True,
    reason=(
        "check_existing_table does not check the by-user-created projection: a KEYS_ONLY index is "
        "accepted, yet GET /assemblies serves the index items as statuses (no state, ok, results) and "
        "active=true filters on a 'state' the index does not hold. The README says 'projecting all attributes'"
    ),
)
def test_existing_table_whose_user_index_does_not_project_all_attributes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)project"):
        _with_table(lambda stack: _table(stack, index={"projection_type": dynamodb.ProjectionType.KEYS_ONLY}))


@pytest.mark.xfail(
    strict=True,
    reason=(
        "check_existing_table checks the index key names, not their types: created_at as NUMBER is "
        "accepted, and every StatusStore.create then fails (the store writes an ISO string)"
    ),
)
def test_existing_table_whose_index_keys_have_the_wrong_types_is_refused() -> None:
    with pytest.raises(ValueError, match="created_at"):
        _with_table(
            lambda stack: _table(
                stack, index={"sort_key": dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.NUMBER)}
            )
        )


@pytest.mark.xfail(
    strict=True,
    reason=(
        "check_existing_table returns early unless isinstance(table, dynamodb.Table): a TableV2 (CDK's "
        "recommended table construct) defined in the same app is never checked, so a wrong partition "
        "key and a missing user index synthesize and deploy a service that cannot read its table"
    ),
)
def test_existing_tablev2_is_validated_like_a_table() -> None:
    def wrong(stack: Any) -> dynamodb.TableV2:
        return dynamodb.TableV2(
            stack,
            "Existing",
            partition_key=dynamodb.Attribute(name="id", type=STRING),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )

    with pytest.raises(ValueError, match="assembly_id"):
        _with_table(wrong)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "a TableV2 with a KEYS_ONLY stream is accepted (the Table check is skipped for TableV2); the "
        "dispatcher then sees no NewImage and silently never produces a webhook"
    ),
)
def test_existing_tablev2_with_a_keys_only_stream_is_refused() -> None:
    def keys_only(stack: Any) -> dynamodb.TableV2:
        table = dynamodb.TableV2(
            stack,
            "Existing",
            partition_key=dynamodb.Attribute(name="assembly_id", type=STRING),
            dynamo_stream=dynamodb.StreamViewType.KEYS_ONLY,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="by-user-created",
                    partition_key=dynamodb.Attribute(name="user_id", type=STRING),
                    sort_key=dynamodb.Attribute(name="created_at", type=STRING),
                )
            ],
        )
        return table

    with pytest.raises(ValueError, match="NEW_AND_OLD_IMAGES"):
        _with_table(keys_only)


# ---- secret separation ---------------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "status.py accepts the shared-secret JWT signing key as a webhook signing secret: every webhook "
        "receiver then holds the key that mints API tokens for any user (full auth bypass). The "
        "construct should refuse the same secret in both roles"
    ),
)
def test_jwt_signing_secret_reused_as_a_webhook_secret_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError):
        TransflowStatus(
            stack,
            "Status",
            auth=StatusAuth.shared_secret(secret),
            webhooks={"tpl_basic_audio": WebhookTarget(url="https://hooks.example.com/t", secret=secret)},
        )


@pytest.mark.xfail(
    strict=True,
    reason=(
        "notify_url_secret may be the same ISecret as a template's WebhookTarget secret; the runtime "
        "itself says (webhook.py WebhookConfig) that signing a caller-chosen URL with a template's secret "
        "hands that caller signatures it can replay to the template's endpoint. Not refused at synth"
    ),
)
def test_notify_url_secret_shared_with_a_template_target_is_refused() -> None:
    stack = new_stack()
    secret = plain_secret(stack, "Shared")
    with pytest.raises(ValueError, match="notify_url_secret"):
        TransflowStatus(
            stack,
            "Status",
            auth=oidc_auth(),
            webhooks={"tpl_basic_audio": WebhookTarget(url="https://hooks.example.com/t", secret=secret)},
            allow_notify_url=True,
            notify_url_secret=secret,
        )


# ---- Lambda limits -------------------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "the whole webhooks= mapping goes into one environment variable (TRANSFLOW_WEBHOOK_CONFIG); 30 "
        "templates make it ~4.9 KB, over Lambda's 4 KB environment limit, so `cdk deploy` fails while "
        "synth passes. Refuse at synth time (or move the config to SSM/S3/an asset)"
    ),
)
def test_webhook_config_beyond_the_lambda_environment_limit_is_refused_at_synth() -> None:
    def build(stack: Any) -> TransflowStatus:
        hooks = {}
        for i in range(30):
            secret = secretsmanager.Secret.from_secret_complete_arn(
                stack, f"Hook{i}", f"arn:aws:secretsmanager:us-east-1:123456789012:secret:transflow/hook-{i:02d}-AbCdEf"
            )
            hooks[f"tpl_template_{i:02d}"] = WebhookTarget(
                url=f"https://hooks.example.com/transflow/{i:02d}", secret=secret
            )
        return TransflowStatus(stack, "Status", auth=oidc_auth(), webhooks=hooks)

    try:
        result = synth(build)
    except ValueError:
        return  # refused at synth time: fixed
    functions = of_type(result.template, "AWS::Lambda::Function")
    webhook = next(v for k, v in functions.items() if k.startswith("StatusWebhookFunction"))
    variables = webhook["Properties"]["Environment"]["Variables"]
    concrete = sum(len(name) + len(value) for name, value in variables.items() if isinstance(value, str))
    assert concrete <= LAMBDA_ENV_LIMIT_BYTES, f"webhook function environment is {concrete} bytes"


# ---- packaging -----------------------------------------------------------------------------------
def _requirement(requirements: list[str], name: str) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name.lower() == name)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "pyproject.toml floors are far below what the code uses: aws-cdk-lib>=2.150 admits versions "
        "without lambda.Runtime.PYTHON_3_13 (added in 2.167, Nov 2024; status.py reads it at import) "
        "or cdk.Validations; cdk-nag>=2.28 admits 2.x, whose AwsSolutionsChecks takes no scope and is "
        "not a validation plugin (app.py: Validations.of(app).add_plugins(AwsSolutionsChecks(app)))"
    ),
)
def test_dependency_floors_admit_only_versions_with_the_apis_the_code_uses() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    cdk_lib = _requirement(project["dependencies"], "aws-cdk-lib")
    nag = _requirement(project["optional-dependencies"]["test"], "cdk-nag")
    assert not cdk_lib.specifier.contains("2.160.0"), f"{cdk_lib} admits a CDK without Runtime.PYTHON_3_13"
    assert not nag.specifier.contains("2.99.0"), f"{nag} admits cdk-nag 2.x"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 2: '.ci/run runs make test and nothing the README does not'; .ci/run apt-get installs "
        "chromium, which the README's quick start ('Nothing else needs installing') never does"
    ),
)
def test_ci_runs_nothing_the_readme_does_not() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    assert "apt-get" not in code or "apt-get" in readme


# ---- API documentation ---------------------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason=(
        "StatusMonitoring is exported (transflow_constructs.__all__) but none of its 12 keywords is "
        "documented (no :param:, no default), unlike every TransflowStatus keyword"
    ),
)
def test_status_monitoring_documents_every_keyword() -> None:
    doc = (StatusMonitoring.__doc__ or "") + (StatusMonitoring.__init__.__doc__ or "")
    keywords = [
        n for n in inspect.signature(StatusMonitoring.__init__).parameters if n not in ("self", "scope", "construct_id")
    ]
    missing = [n for n in keywords if f":param {n}:" not in doc]
    assert not missing, f"undocumented StatusMonitoring keywords: {missing}"
