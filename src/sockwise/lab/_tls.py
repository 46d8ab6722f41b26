"""Certificates for the lab, made at start with trustme (the ``lab`` extra)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabCerts", "make_certs"]


@dataclass(frozen=True, slots=True)
class LabCerts:
    """Server contexts for the TLS scenarios and the CA file clients should trust."""

    ca_file: Path
    server: ssl.SSLContext  # trusted CA, names 127.0.0.1 / localhost / ::1
    untrusted: ssl.SSLContext  # a CA that no client trusts
    wrong_host: ssl.SSLContext  # trusted CA, names another host

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the lab's CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certs(directory: Path) -> LabCerts:
    """Make a CA and leaf certificates; write the CA PEM into ``directory``.

    Raises:
        ImportError: trustme is not installed (``pip install 'sockwise[lab]'``).
    """
    import trustme

    ca = trustme.CA(organization_name="sockwise lab")
    rogue = trustme.CA(organization_name="sockwise lab (untrusted)")
    ca_file = directory / "sockwise-lab-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def server_ctx(issuer: trustme.CA, *names: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        issuer.issue_cert(*names).configure_cert(ctx)
        return ctx

    return LabCerts(
        ca_file=ca_file,
        server=server_ctx(ca, "127.0.0.1", "localhost", "::1"),
        untrusted=server_ctx(rogue, "127.0.0.1", "localhost", "::1"),
        wrong_host=server_ctx(ca, "wrong-host.invalid"),
    )
