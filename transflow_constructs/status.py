"""``TransflowStatus``: the whole job-status service as one construct."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .table import StatusTable


class TransflowStatus(Construct):
    """Job-status service for a file-processing pipeline (see DESIGN.md).

    :param removal_policy: what happens to the status table when the stack is deleted.
        Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self._table = StatusTable(self, "Table", removal_policy=removal_policy).table

    @property
    def table(self) -> dynamodb.ITable:
        return self._table
