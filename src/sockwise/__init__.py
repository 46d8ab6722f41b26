"""sockwise: HTTP through proxy IPs on a network that misbehaves.

Knows what a socket failure means (code, phase, blame, whether the request was sent), acts on
it (retry, switch proxy, quarantine, back off, fail fast) and proves it against a fault lab.
The core uses the standard library only; integrations and tools sit behind extras.
"""

from sockwise._exceptions import ConfigError, ProxyParseError, RequestFailed, SockwiseError, StoreUnavailable
from sockwise._model import Attempt, Blame, ErrorCode, Failure, Phase, Proxy

__version__ = "0.1.0.dev0"

__all__ = [
    "Attempt",
    "Blame",
    "ConfigError",
    "ErrorCode",
    "Failure",
    "Phase",
    "Proxy",
    "ProxyParseError",
    "RequestFailed",
    "SockwiseError",
    "StoreUnavailable",
    "__version__",
]
