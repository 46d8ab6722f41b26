"""Keep proxy credentials out of the text sockwise shows: details, logs, reports.

Exception messages carry URLs (aiohttp prints the proxy URL, userinfo included, in
``ClientHttpProxyError``) and sometimes headers. :func:`redact_credentials` masks the
userinfo of every URL, a bare ``user:password@host`` and the value of an
``Authorization`` / ``Proxy-Authorization`` header.
"""

from __future__ import annotations

import re

__all__ = ["redact_credentials"]

_MASK = "***"

# scheme://userinfo@ — userinfo runs to the last "@" before the host, so an unencoded "@"
# in a password is masked too; it cannot contain whitespace, "/", "?" or "#".
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#]*@")
# user:password@host without a scheme (the proxy-list form). The host must follow at once.
_BARE_USERINFO = re.compile(r"(?<![\w/:@.\-])[^\s:/@'\"<>()\[\]]+:[^\s/@'\"<>()\[\]]*@(?=[\w\[])")
_AUTH_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\b['\"]?\s*[:=,]\s*['\"]?)"
    r"(?:(?P<scheme>basic|bearer|digest|negotiate)\s+)?[^\s'\",}]+",
    re.IGNORECASE,
)


def _mask_header(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return match.group("name") + (f"{scheme} " if scheme else "") + _MASK


def redact_credentials(text: str) -> str:
    """Mask credentials in ``text``.

    ``http://user:secret@proxy:8080`` becomes ``http://***@proxy:8080``, ``user:secret@host``
    becomes ``***@host`` and ``Proxy-Authorization: Basic dXNlcjpz`` becomes
    ``Proxy-Authorization: Basic ***``. Text without credentials is returned unchanged.

    Args:
        text: any message.

    Returns:
        The text with every credential replaced by ``***``.
    """
    if "@" in text:
        text = _URL_USERINFO.sub(lambda m: m.group("scheme") + _MASK + "@", text)
        text = _BARE_USERINFO.sub(_MASK + "@", text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_HEADER.sub(_mask_header, text)
    return text
