"""A development OpenID Connect issuer, for a template whose JWT authorizer trusts a real one.

Local mode serves its discovery document and JWKS under ``/_local/oidc`` and the JWT authorizer
fetches them over HTTP exactly as it fetches a real issuer's; tokens are RS256 with a ``kid``, for
the template's first audience. The key lives in memory for one run.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

PATH = "/_local/oidc"


class DevIssuer:
    def __init__(self, base_url: str, audience: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.issuer = base_url.rstrip("/") + PATH
        self.audience = audience
        self.kid = uuid.uuid4().hex[:16]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        }

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        key = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        key.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [key]}

    def mint(self, user: str, *, ttl: int = 3600, claim: str = "sub", scopes: list[str] | None = None) -> str:
        import jwt

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
            "sub": user,
            claim: user,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
