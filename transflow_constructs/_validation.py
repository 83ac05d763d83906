"""Option checks against AWS's documented ranges, allowing for tokens.

aws-cdk's DESIGN_GUIDELINES: "validate early, but allow for tokens". A value known at synth
time is checked here, so a wrong one fails ``cdk synth`` with its name instead of a deployment
half-way through; a deploy-time value (a ``CfnParameter``, an attribute of another resource) is
left to AWS, which checks the same range when the stack is deployed. A value from which the
construct derives other settings (the retry schedule gives the queue's receive count, a timeout
gives the visibility timeout) cannot be derived from at synth time: ``literal`` refuses tokens
for those.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk


def is_unresolved(value: Any) -> bool:
    """Whether ``value`` (a number, string, list or ``Duration``) is only known at deploy time."""
    if isinstance(value, cdk.Duration):
        return bool(value.is_unresolved())
    return bool(cdk.Token.is_unresolved(value))


def literal(value: Any, name: str, derives: str) -> None:
    """Refuse a deploy-time value for an option others are derived from at synth time."""
    if is_unresolved(value) or (
        isinstance(value, list | tuple) and any(is_unresolved(item) for item in value)
    ):
        raise ValueError(f"{name} must be a literal, not a deploy-time value: {derives}")


def check_number(
    value: Any,
    name: str,
    low: float,
    high: float | None,
    *,
    why: str,
    integer: bool = True,
    unit: str = "",
    above: bool = False,
) -> None:
    """Refuse a resolved ``value`` outside ``[low, high]`` (``high=None``: no upper bound; ``above``:
    strictly greater than ``low``)."""
    if is_unresolved(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{name} must be {kind}{unit and ' of ' + unit.strip()}, got {value!r}")
    if value < low or (above and value == low) or (high is not None and value > high):
        if high is not None:
            bounds = f"between {low:g} and {high:g}{unit}"
        else:
            bounds = f"{'greater than' if above else 'at least'} {low:g}{unit}"
        raise ValueError(f"{name} must be {bounds} ({why}), got {value:g}{unit}")


def seconds_of(duration: Any, name: str) -> Any:
    """A ``Duration``'s seconds (a number token for a deploy-time duration in seconds)."""
    if not isinstance(duration, cdk.Duration):
        raise ValueError(f"{name} must be a Duration, got {duration!r}")
    try:
        return duration.to_seconds()
    except RuntimeError:
        # A token amount in another unit cannot be converted at synth time.
        raise ValueError(
            f"{name} from a deploy-time value must be given in seconds (cdk.Duration.seconds(...))"
        ) from None


def check_seconds(duration: Any, name: str, low: int, high: int, *, why: str) -> None:
    """Refuse a resolved ``Duration`` outside ``[low, high]`` seconds (whole seconds only)."""
    check_number(seconds_of(duration, name), name, low, high, why=why, unit=" s")
