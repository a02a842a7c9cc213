"""Local OIDC issuer: the stand-in for Google's ID-token minting and its certificate endpoint. Of this
project it imports infra.routing, infra.serving and maintenance_windows.observability only."""

from infra.oidc_issuer.app import CERTS_PATH, MINT_PATH, create_app
from infra.oidc_issuer.issuer import GOOGLE_ISSUER, LocalIssuer, subject_for

__all__ = ["CERTS_PATH", "GOOGLE_ISSUER", "MINT_PATH", "LocalIssuer", "create_app", "subject_for"]
