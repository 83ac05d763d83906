"""Where the light client's credentials come from.

On Lambda they are in the environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN`` (``AWS_SECURITY_TOKEN`` is the older name botocore also reads), fixed for the
life of the execution environment. Anywhere else (a profile, SSO, a container credentials
endpoint, instance metadata, Lambda SnapStart) the light client, when asked for explicitly,
borrows botocore's credential chain, which refreshes temporary credentials itself; it is only
imported then.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .errors import NoCredentialsError
from .sigv4 import Credentials


def from_environment(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The environment's static credentials, or None when either key is missing or empty."""
    env = os.environ if environ is None else environ
    access_key = env.get("AWS_ACCESS_KEY_ID", "")
    secret_key = env.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key:
        return None
    token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
    return Credentials(access_key, secret_key, token)


def _botocore_chain() -> Callable[[], Credentials]:
    import botocore.session  # only off Lambda, and only when the light client was asked for

    resolved: Any = botocore.session.get_session().get_credentials()
    if resolved is None:
        raise NoCredentialsError()

    def current() -> Credentials:
        frozen = resolved.get_frozen_credentials()  # refreshes expiring credentials
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)

    return current


def provider(environ: Mapping[str, str] | None = None) -> Callable[[], Credentials]:
    """A function returning the credentials to sign the next request with."""
    static = from_environment(environ)
    if static is not None:
        return lambda: static
    return _botocore_chain()
