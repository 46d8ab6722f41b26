"""Which language an explanation is written in: from an argument or from the locale."""

from __future__ import annotations

import os
from collections.abc import Mapping

from sockwise._exceptions import ConfigError

__all__ = ["LANGUAGES", "default_lang", "normalize_lang"]

LANGUAGES = ("en", "zh")

# POSIX order of precedence for message catalogues: the first one set wins.
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """The language the user's locale asks for: ``"zh"`` or ``"en"``.

    The first non-empty one of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` decides: a value
    starting with ``zh`` (``zh_CN.UTF-8``, ``zh_TW``, ``zh-Hans``) gives ``"zh"``, anything
    else (``en_US.UTF-8``, ``C``, ``POSIX``) gives ``"en"``. Nothing set gives ``"en"``.

    Args:
        environ: the environment to read; ``os.environ`` when None.

    Returns:
        ``"zh"`` or ``"en"``.
    """
    env = os.environ if environ is None else environ
    for variable in _LOCALE_VARIABLES:
        value = env.get(variable, "")
        if value:
            return "zh" if value.strip().lower().startswith("zh") else "en"
    return "en"


def normalize_lang(lang: str) -> str:
    """Map a language tag to one the knowledge base has.

    Args:
        lang: ``"en"``, ``"zh"``, or a locale-style tag such as ``"zh_CN"``, ``"zh-Hans"``,
            ``"en_US.UTF-8"`` (case-insensitive).

    Returns:
        ``"en"`` or ``"zh"``.

    Raises:
        ConfigError: for any other language.
    """
    tag = lang.strip().lower().replace("-", "_")
    base = tag.split("_", 1)[0].split(".", 1)[0]
    if base in LANGUAGES:
        return base
    raise ConfigError(f"unsupported language {lang!r} for explanations; use one of: {', '.join(LANGUAGES)}")
