"""transflow_constructs: the ``TransflowStatus`` AWS CDK construct and its parts."""

from .status import TransflowStatus

__all__ = ["TransflowStatus"]
