"""Shared fixtures: fake AWS credentials, moto-backed DynamoDB/SQS, the status table."""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws
from transflow_runtime.resources import create_table

REGION = "us-east-1"

# Never let a test reach a real AWS account, whatever the machine's environment holds.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # moto 5 + current botocore: DynamoDB (Streams) calls need this.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def aws():
    """Everything inside runs against moto's in-process AWS."""
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def table_name(dynamodb) -> str:
    name = "transflow-status-test"
    create_table(dynamodb, name)
    return name


@pytest.fixture
def store(dynamodb, table_name):
    from transflow_runtime import StatusStore

    return StatusStore(table_name, client=dynamodb)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server (one request at a time, like DynamoDB's per-request atomicity) for tests that
    call AWS from several threads: moto's in-process mock is not thread-safe."""
    from transflow_runtime.local.moto_server import SerialMotoServer

    with SerialMotoServer() as server:
        yield server.endpoint_url


@pytest.fixture
def server_store(moto_endpoint):
    """A StatusStore on its own fresh table in the moto server."""
    import uuid

    from transflow_runtime import StatusStore

    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    name = f"transflow-status-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    return StatusStore(name, client=client)


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs", region_name=REGION)
