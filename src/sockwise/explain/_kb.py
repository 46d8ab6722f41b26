"""The knowledge base behind ``sockwise explain``: loading it, and finding the entry a query means.

The knowledge base is package data, not code, in ``kb/``:

- ``codes.json`` holds what does not depend on the language, per ErrorCode: the related
  codes, the names other stacks use (``aliases``: Linux and macOS errno, Winsock numbers,
  curl exit codes, Node/axios/undici codes, Python exception names, HTTP statuses, the
  messages each prints) and ``keywords`` (extra words that find the entry, never shown).
- ``en.json`` and ``zh.json`` hold the text of each entry and the labels a renderer needs.

The files are read on first use and cached for the life of the process.

A query is resolved by the first of these steps that finds something:

1. an ``ErrorCode``, or a code name in any case, with ``-`` or spaces for ``_`` and with or
   without the leading ``E`` (``econnreset``, ``ConnReset``, ``unexpected eof``);
2. a number, alone or with a stack word: ``104``, ``-104`` (Node's errno), ``10054``,
   ``errno 104``, ``[Errno 104]``, ``WinError 10054``, ``curl 52``, ``curl:52``,
   ``curl: (52)``, ``macos 54``, ``http 407``. A bare number is tried as an errno of this
   host (Linux numbering, or macOS numbering on macOS and BSD), then a Winsock number, then
   an HTTP status, then (when negative) as Node's negated errno;
3. an alias name or keyword, exactly (``WSAECONNRESET``, ``RemoteDisconnected``,
   ``CURLE_GOT_NOTHING``, ``ENOTFOUND``);
4. a known message found anywhere in the text, the longest one winning, so a pasted
   traceback works (``Connection reset by peer``, ``socket hang up``,
   ``curl: (56) CONNECT tunnel failed, response 407``);
5. a number embedded in the text (``[Errno 104]``, ``curl: (52)``, ``errno: -104``);
6. a code or alias name appearing as a word in the text (``Error: read ECONNRESET``);
7. the text as a fragment of exactly one code's names and messages (``reset by peer``).

Anything else raises :class:`UnknownQuery` with the closest codes as suggestions.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sockwise._exceptions import ConfigError
from sockwise._model import ErrorCode
from sockwise.explain._lang import normalize_lang

__all__ = ["Alias", "Explanation", "UnknownQuery", "explain", "lookup"]

_KB_PACKAGE = "sockwise.explain"
_KB_DIR = "kb"
_FORMAT = 1
_TEXT_FIELDS = ("title", "meaning", "tcp_story", "sockwise_does")
_LIST_FIELDS = ("causes_direct", "causes_proxy", "what_to_do")

# Stack words a user may put before a number, and the alias stack each one means. "errno"
# means "the usual places" (None), like a bare number.
_STACK_WORDS: Mapping[str, str | None] = {
    "errno": None,
    "linux": "linux",
    "macos": "macos",
    "darwin": "macos",
    "bsd": "macos",
    "osx": "macos",
    "win": "windows",
    "winerror": "windows",
    "windows": "windows",
    "wsa": "windows",
    "winsock": "windows",
    "curl": "curl",
    "http": "http",
    "status": "http",
}
# A bare number is first this host's errno: 54 is ECONNRESET on macOS but EXFULL on Linux.
_HOST_ERRNO_STACK = "macos" if sys.platform == "darwin" or "bsd" in sys.platform else "linux"
_BARE_NUMBER_STACKS = (_HOST_ERRNO_STACK, "windows", "http")

_NUMBER_FORM = re.compile(r"\[?\s*(?:(?P<stack>[a-z]+)\s*[:#]?\s*)?\(?\s*(?P<number>[+-]?\d+)\s*\)?\s*\]?")
_EMBEDDED_NUMBERS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"curl:?\s*\((\d+)\)"), "curl"),
    (re.compile(r"\[winerror\s+(\d+)\]"), "windows"),
    (re.compile(r"\[errno\s+(-?\d+)\]"), None),
    (re.compile(r"\berrno\s*[:=]\s*(-?\d+)"), None),
)
_TOKEN = re.compile(r"[a-z_][a-z0-9_.]*[a-z0-9_]|[a-z_]")
_ASCII_WORD_CHAR = re.compile(r"[0-9a-z_]")
_MIN_FRAGMENT = 4
_MAX_SUGGESTIONS = 3
_MAX_SUGGESTED_MESSAGE = 40
_SUGGEST_CUTOFF = 0.6
_SUGGEST_SPREAD = 0.2
_MAX_AMBIGUOUS = 5
_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Alias:
    """A name another stack uses for a code.

    Attributes:
        stack: where the name comes from: ``linux``, ``macos``, ``windows``, ``node``,
            ``axios``, ``undici``, ``curl``, ``python``, ``openssl``, ``go``, ``http``,
            ``socks`` or ``textbook``.
        name: the symbol (``ECONNRESET``, ``WSAECONNRESET``, ``CURLE_GOT_NOTHING``,
            ``http.client.RemoteDisconnected``), or None.
        number: the errno, Winsock number, curl exit code or HTTP status, or None.
        message: the text that stack prints; ``*`` stands for one variable word (an
            address, a number of milliseconds). None when there is none.
        lang: the language the message is in when it is not English (a Chinese Windows
            message is ``"zh"``); None otherwise.
    """

    stack: str
    name: str | None = None
    number: int | None = None
    message: str | None = None
    lang: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The alias as plain JSON-ready values: ``stack``, ``name``, ``number``, ``message``."""
        return {"stack": self.stack, "name": self.name, "number": self.number, "message": self.message}


@dataclass(frozen=True, slots=True)
class Explanation:
    """One knowledge-base entry, in one language.

    Attributes:
        code: the code explained.
        lang: ``"en"`` or ``"zh"``.
        title: a few words naming the failure.
        meaning: what it means, in two or three sentences.
        tcp_story: what happens on the wire: FIN or RST, socket states, which call returns it.
        causes_direct: typical causes without a proxy.
        causes_proxy: typical causes through a proxy.
        sockwise_does: what sockwise does about it (retry, switch proxy, eject, fail fast).
        what_to_do: what the user can do.
        related: codes worth reading next.
        aliases: the names other stacks use (errno, WSAE*, curl exit codes, Node, Python...),
            those in another language left out.
        matched: the alias the query was resolved through, or None when the query named the
            code itself.
    """

    code: ErrorCode
    lang: str
    title: str
    meaning: str
    tcp_story: str
    causes_direct: tuple[str, ...]
    causes_proxy: tuple[str, ...]
    sockwise_does: str
    what_to_do: tuple[str, ...]
    related: tuple[ErrorCode, ...]
    aliases: tuple[Alias, ...]
    matched: Alias | None = None

    def as_dict(self) -> dict[str, Any]:
        """The explanation as plain JSON-ready values (codes as strings, tuples as lists).

        Returns:
            A dict with the keys ``code``, ``lang``, ``title``, ``meaning``, ``tcp_story``,
            ``causes_direct``, ``causes_proxy``, ``sockwise_does``, ``what_to_do``,
            ``related``, ``aliases`` (a list of :meth:`Alias.as_dict`) and ``matched``
            (an alias dict or None).
        """
        return {
            "code": str(self.code),
            "lang": self.lang,
            "title": self.title,
            "meaning": self.meaning,
            "tcp_story": self.tcp_story,
            "causes_direct": list(self.causes_direct),
            "causes_proxy": list(self.causes_proxy),
            "sockwise_does": self.sockwise_does,
            "what_to_do": list(self.what_to_do),
            "related": [str(code) for code in self.related],
            "aliases": [alias.as_dict() for alias in self.aliases],
            "matched": self.matched.as_dict() if self.matched is not None else None,
        }


class UnknownQuery(ConfigError):
    """A query that names no code, or names several.

    The message is one line, names the query (credentials in URLs masked) and offers the
    closest codes: ``unknown code 'ECONNRSET'; did you mean: ECONNRESET, ECONNREFUSED?``

    Attributes:
        query: the query as shown in the message, credentials in URLs masked.
        suggestions: the closest codes, best first; empty when nothing is close.
        ambiguous: True when the query matched several codes equally well (they are the
            suggestions).
    """

    def __init__(self, query: object, suggestions: Iterable[ErrorCode] = (), *, ambiguous: bool = False) -> None:
        self.query = _mask_credentials(" ".join(str(query).split()))
        self.suggestions = tuple(suggestions)
        self.ambiguous = ambiguous
        shown = self.query if len(self.query) <= 60 else self.query[:59] + "…"
        names = ", ".join(str(code) for code in self.suggestions)
        if not shown:
            message = "no code given; give a code name (ECONNRESET), an errno (104), a message or 'curl 52'"
        elif ambiguous and names:
            message = f"{shown!r} matches several codes; did you mean: {names}?"
        elif names:
            message = f"unknown code {shown!r}; did you mean: {names}?"
        else:
            message = (
                f"unknown code {shown!r}; give a code name (ECONNRESET), an errno (104), "
                "a message ('Connection reset by peer') or a curl exit code (curl 52)"
            )
        super().__init__(message)


def lookup(query: str | int | ErrorCode) -> ErrorCode:
    """The code a query names.

    Args:
        query: an ErrorCode; a code name (any case, with or without the leading ``E``); an
            errno or Winsock number (``104``, ``"104"``, ``10054``, ``"errno 104"``); a curl
            exit code (``"curl 52"``, ``"curl:52"``); an alias name (``"WSAECONNRESET"``,
            ``"RemoteDisconnected"``); or a message or a pasted error line containing one
            (``"Connection reset by peer"``, ``"socket hang up"``).

    Returns:
        The ErrorCode.

    Raises:
        UnknownQuery: when the query names no code or several; ``.suggestions`` holds the
            closest ones.
    """
    return _resolve(query)[0]


def explain(query: str | int | ErrorCode, *, lang: str = "en") -> Explanation:
    """The knowledge-base entry a query names, in one language.

    Args:
        query: anything :func:`lookup` accepts.
        lang: ``"en"`` or ``"zh"`` (locale tags such as ``"zh_CN"`` are accepted too); use
            :func:`default_lang` for the user's locale.

    Returns:
        The Explanation; ``.matched`` tells which alias the query was resolved through.

    Raises:
        UnknownQuery: when the query names no code or several.
        ConfigError: for a language the knowledge base does not have.
    """
    language = normalize_lang(lang)
    code, matched = _resolve(query)
    entry = _entries().get(code)
    texts = _language(language).codes.get(code)
    if entry is None or texts is None:
        raise RuntimeError(f"the knowledge base has no {language} entry for {code}; this is a packaging bug")
    return Explanation(
        code=code,
        lang=language,
        title=texts.title,
        meaning=texts.meaning,
        tcp_story=texts.tcp_story,
        causes_direct=texts.causes_direct,
        causes_proxy=texts.causes_proxy,
        sockwise_does=texts.sockwise_does,
        what_to_do=texts.what_to_do,
        related=entry.related,
        aliases=tuple(alias for alias in entry.aliases if alias.lang in (None, language)),
        matched=matched,
    )


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    related: tuple[ErrorCode, ...]
    aliases: tuple[Alias, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Texts:
    title: str
    meaning: str
    tcp_story: str
    causes_direct: tuple[str, ...]
    causes_proxy: tuple[str, ...]
    sockwise_does: str
    what_to_do: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Language:
    lang: str
    labels: Mapping[str, str]
    stacks: Mapping[str, str]
    codes: Mapping[ErrorCode, _Texts]


class _BadData(RuntimeError):
    """A knowledge-base file that does not have the expected shape (a packaging bug)."""


def _read_json(name: str) -> Any:
    resource = importlib.resources.files(_KB_PACKAGE).joinpath(_KB_DIR).joinpath(name)
    return json.loads(resource.read_text(encoding="utf-8"))


def _expect_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadData(f"{where}: expected an object")
    return value


def _expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadData(f"{where}: expected a non-empty string")
    return value


def _expect_strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _BadData(f"{where}: expected a list")
    return tuple(_expect_str(item, f"{where}[{i}]") for i, item in enumerate(value))


def _expect_code(value: Any, where: str) -> ErrorCode:
    if not isinstance(value, str) or value not in ErrorCode.__members__:
        raise _BadData(f"{where}: {value!r} is not an ErrorCode")
    return ErrorCode(value)


def _expect_format(document: dict[str, Any], where: str) -> None:
    if document.get("format") != _FORMAT:
        raise _BadData(f"{where}: unsupported format {document.get('format')!r}, expected {_FORMAT}")


def _parse_alias(value: Any, where: str) -> Alias:
    raw = _expect_dict(value, where)
    unknown = set(raw) - {"stack", "name", "number", "message", "lang"}
    if unknown:
        raise _BadData(f"{where}: unknown keys {sorted(unknown)}")
    number = raw.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        raise _BadData(f"{where}.number: expected an integer")
    alias = Alias(
        stack=_expect_str(raw.get("stack"), f"{where}.stack"),
        name=_expect_str(raw["name"], f"{where}.name") if "name" in raw else None,
        number=number,
        message=_expect_str(raw["message"], f"{where}.message") if "message" in raw else None,
        lang=_expect_str(raw["lang"], f"{where}.lang") if "lang" in raw else None,
    )
    if alias.name is None and alias.number is None and alias.message is None:
        raise _BadData(f"{where}: an alias needs a name, a number or a message")
    return alias


@functools.cache
def _entries() -> Mapping[ErrorCode, _Entry]:
    document = _expect_dict(_read_json("codes.json"), "codes.json")
    _expect_format(document, "codes.json")
    entries: dict[ErrorCode, _Entry] = {}
    for key, value in _expect_dict(document.get("codes"), "codes.json:codes").items():
        where = f"codes.json:codes.{key}"
        code = _expect_code(key, where)
        raw = _expect_dict(value, where)
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list):
            raise _BadData(f"{where}.aliases: expected a list")
        entries[code] = _Entry(
            related=tuple(_expect_code(item, f"{where}.related") for item in raw.get("related", [])),
            aliases=tuple(_parse_alias(item, f"{where}.aliases[{i}]") for i, item in enumerate(aliases)),
            keywords=_expect_strs(raw.get("keywords", []), f"{where}.keywords"),
        )
    return entries


@functools.cache
def _language(lang: str) -> _Language:
    name = f"{lang}.json"
    document = _expect_dict(_read_json(name), name)
    _expect_format(document, name)
    if document.get("lang") != lang:
        raise _BadData(f"{name}: lang is {document.get('lang')!r}, expected {lang!r}")
    labels = {key: _expect_str(value, f"{name}:labels.{key}") for key, value in document.get("labels", {}).items()}
    stacks = {key: _expect_str(value, f"{name}:stacks.{key}") for key, value in document.get("stacks", {}).items()}
    codes: dict[ErrorCode, _Texts] = {}
    for key, value in _expect_dict(document.get("codes"), f"{name}:codes").items():
        where = f"{name}:codes.{key}"
        raw = _expect_dict(value, where)
        unknown = set(raw) - set(_TEXT_FIELDS) - set(_LIST_FIELDS)
        if unknown:
            raise _BadData(f"{where}: unknown keys {sorted(unknown)}")
        codes[_expect_code(key, where)] = _Texts(
            title=_expect_str(raw.get("title"), f"{where}.title"),
            meaning=_expect_str(raw.get("meaning"), f"{where}.meaning"),
            tcp_story=_expect_str(raw.get("tcp_story"), f"{where}.tcp_story"),
            causes_direct=_expect_strs(raw.get("causes_direct"), f"{where}.causes_direct"),
            causes_proxy=_expect_strs(raw.get("causes_proxy"), f"{where}.causes_proxy"),
            sockwise_does=_expect_str(raw.get("sockwise_does"), f"{where}.sockwise_does"),
            what_to_do=_expect_strs(raw.get("what_to_do"), f"{where}.what_to_do"),
        )
    return _Language(lang=lang, labels=labels, stacks=stacks, codes=codes)


# --- the index -------------------------------------------------------------------------------

_Hit = tuple[ErrorCode, Alias | None]


@dataclass(frozen=True, slots=True)
class _Message:
    pattern: re.Pattern[str]
    weight: int  # characters of fixed text: the longer, the more specific
    literal: str  # the message without its wildcards, for fragment search and suggestions
    code: ErrorCode
    alias: Alias


@dataclass(frozen=True, slots=True)
class _Index:
    names: Mapping[str, tuple[_Hit, ...]]
    numbers: Mapping[tuple[str, int], _Hit]
    messages: tuple[_Message, ...]


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".。")


def _message_pattern(normalized: str) -> tuple[re.Pattern[str], int]:
    parts = normalized.split("*")
    body = r"\S+".join(re.escape(part) for part in parts)
    # Word boundaries only where the message starts or ends with an ASCII word character,
    # so "timed out" does not match inside another word but Chinese text needs no spaces.
    if _ASCII_WORD_CHAR.match(normalized[:1]):
        body = r"(?<![0-9a-z_])" + body
    if _ASCII_WORD_CHAR.match(normalized[-1:]):
        body += r"(?![0-9a-z_])"
    return re.compile(body), sum(len(part) for part in parts)


@functools.cache
def _index() -> _Index:
    names: dict[str, list[_Hit]] = {}
    numbers: dict[tuple[str, int], _Hit] = {}
    messages: list[_Message] = []
    code_names = {code.value.casefold() for code in ErrorCode}

    def add_name(key: str, hit: _Hit) -> None:
        # A code's own name always means that code, whatever another stack calls it.
        if key in code_names:
            return
        bucket = names.setdefault(key, [])
        if hit not in bucket:
            bucket.append(hit)

    for code in ErrorCode:
        names[code.value.casefold()] = [(code, None)]
    for code, entry in _entries().items():
        for keyword in entry.keywords:
            add_name(_norm(keyword), (code, None))
        for alias in entry.aliases:
            if alias.name is not None:
                full = alias.name.casefold()
                add_name(full, (code, alias))
                short = full.rsplit(".", 1)[-1]
                if short != full:
                    add_name(short, (code, alias))
            if alias.number is not None:
                key = (alias.stack, alias.number)
                if key in numbers and numbers[key][0] is not code:
                    raise _BadData(f"codes.json: {alias.stack} {alias.number} is given for two codes")
                numbers.setdefault(key, (code, alias))
            if alias.message is not None:
                normalized = _norm(alias.message)
                pattern, weight = _message_pattern(normalized)
                literal = " ".join(normalized.replace("*", " ").split())
                messages.append(_Message(pattern, weight, literal, code, alias))
    return _Index(
        names={key: tuple(hits) for key, hits in names.items()},
        numbers=numbers,
        messages=tuple(messages),
    )


# --- resolution ------------------------------------------------------------------------------


class _Ambiguous(Exception):
    """Raised by a resolution step when the query matches several codes equally well."""

    def __init__(self, codes: Iterable[ErrorCode]) -> None:
        super().__init__()
        self.codes = _in_code_order(codes)


class _Unmatched(Exception):
    """Raised by a resolution step that recognised the form of the query but not its value."""


def _resolve(query: object) -> _Hit:
    if isinstance(query, ErrorCode):
        return query, None
    if isinstance(query, bool) or not isinstance(query, (int, str)):
        raise UnknownQuery(query)
    index = _index()
    text = _norm(str(query))
    if not text:
        raise UnknownQuery(query)
    steps = (_by_code_name, _by_number_form, _by_exact_name, _by_message, _by_embedded_number, _by_word, _by_fragment)
    try:
        for step in steps:
            hit = step(index, text)
            if hit is not None:
                return hit
    except _Ambiguous as exc:
        raise UnknownQuery(query, exc.codes[:_MAX_AMBIGUOUS], ambiguous=True) from None
    except _Unmatched:
        pass
    raise UnknownQuery(query, _suggest(index, text))


def _unique(hits: Iterable[_Hit]) -> _Hit:
    """The one code the hits agree on, with the first alias that gave it."""
    hits = list(hits)
    codes = list(dict.fromkeys(code for code, _ in hits))
    if len(codes) > 1:
        raise _Ambiguous(codes)
    return hits[0]


def _in_code_order(codes: Iterable[ErrorCode]) -> list[ErrorCode]:
    order = {code: i for i, code in enumerate(ErrorCode)}
    return sorted(set(codes), key=order.__getitem__)


def _by_code_name(index: _Index, text: str) -> _Hit | None:
    key = text.upper().replace("-", "_").replace(" ", "_")
    for candidate in (key, "E" + key):
        if candidate in ErrorCode.__members__:
            return ErrorCode(candidate), None
    return None


def _by_number(index: _Index, stack: str | None, number: int) -> _Hit | None:
    stacks = (stack,) if stack is not None else _BARE_NUMBER_STACKS
    for name in stacks:
        hit = index.numbers.get((name, number))
        if hit is not None:
            return hit
    if number < 0 and stack in (None, _HOST_ERRNO_STACK):
        # Node and libuv report errno negated: errno -104 is ECONNRESET.
        return index.numbers.get((_HOST_ERRNO_STACK, -number))
    return None


def _stack_of(word: str | None) -> tuple[bool, str | None]:
    """Whether a stack word is known, and the stack it means (None: the usual places)."""
    if word is None:
        return True, None
    if word in _STACK_WORDS:
        return True, _STACK_WORDS[word]
    return False, None


def _by_number_form(index: _Index, text: str) -> _Hit | None:
    match = _NUMBER_FORM.fullmatch(text)
    if match is None:
        return None
    known, stack = _stack_of(match.group("stack"))
    if not known:
        return None
    hit = _by_number(index, stack, int(match.group("number")))
    if hit is None:
        raise _Unmatched
    return hit


def _by_exact_name(index: _Index, text: str) -> _Hit | None:
    hits = index.names.get(text)
    return _unique(hits) if hits else None


def _by_message(index: _Index, text: str) -> _Hit | None:
    found = [message for message in index.messages if message.pattern.search(text)]
    if not found:
        return None
    best = max(message.weight for message in found)
    return _unique((m.code, m.alias) for m in found if m.weight == best)


def _by_embedded_number(index: _Index, text: str) -> _Hit | None:
    for pattern, stack in _EMBEDDED_NUMBERS:
        for match in pattern.finditer(text):
            hit = _by_number(index, stack, int(match.group(1)))
            if hit is not None:
                return hit
    return None


def _by_word(index: _Index, text: str) -> _Hit | None:
    found: list[tuple[int, _Hit]] = []
    for token in _TOKEN.findall(text):
        for key in dict.fromkeys((token, token.rsplit(".", 1)[-1])):
            for hit in index.names.get(key, ()):
                found.append((len(key), hit))
    if not found:
        return None
    best = max(weight for weight, _ in found)
    return _unique(hit for weight, hit in found if weight == best)


def _by_fragment(index: _Index, text: str) -> _Hit | None:
    if len(text) < _MIN_FRAGMENT:
        return None
    hits: list[_Hit] = []
    for key, key_hits in index.names.items():
        if text in key:
            hits.extend(key_hits)
    hits.extend((m.code, m.alias) for m in index.messages if text in m.literal)
    if not hits:
        return None
    # Prefer the code itself over an alias when the fragment is in the code's own name.
    hits.sort(key=lambda hit: hit[1] is not None)
    return _unique(hits)


def _suggest(index: _Index, text: str) -> tuple[ErrorCode, ...]:
    """The codes whose names or short messages are closest to the text, best first.

    Only candidates nearly as close as the best one are kept, so a typo of one code does
    not drag in every code that shares a prefix with it.
    """
    candidates: dict[str, list[ErrorCode]] = {}
    for key, hits in index.names.items():
        candidates.setdefault(key, []).extend(code for code, _ in hits)
    for message in index.messages:
        if len(message.literal) <= _MAX_SUGGESTED_MESSAGE:
            candidates.setdefault(message.literal, []).append(message.code)
    probe = text[:80]
    close = difflib.get_close_matches(probe, list(candidates), n=20, cutoff=_SUGGEST_CUTOFF)
    if not close:
        return ()
    best = difflib.SequenceMatcher(None, probe, close[0]).ratio()
    near = [key for key in close if difflib.SequenceMatcher(None, probe, key).ratio() >= best - _SUGGEST_SPREAD]
    codes = dict.fromkeys(code for key in near for code in candidates[key])
    return tuple(codes)[:_MAX_SUGGESTIONS]


def _mask_credentials(text: str) -> str:
    return _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", text)
