"""What a socket failure means: the knowledge base behind ``sockwise explain``.

One entry per :class:`~sockwise.ErrorCode`, in English and Chinese: what it means, what
happens on the wire, typical causes with and without a proxy, what sockwise does about it,
what you can do, and the names other stacks give it (errno and Winsock numbers, curl exit
codes, Node, axios, Python and Go names and messages)::

    >>> from sockwise.explain import explain, render_text
    >>> explain("curl 52").code
    <ErrorCode.UNEXPECTED_EOF: 'UNEXPECTED_EOF'>
    >>> explain("Connection reset by peer", lang="zh").title
    '连接被对端重置'

The data is read lazily from package files on first use; importing this package reads
nothing and imports nothing outside the standard library.
"""

from sockwise.explain._kb import Alias, Explanation, UnknownQuery, explain, lookup
from sockwise.explain._lang import default_lang
from sockwise.explain._render import Block, layout, render_text

__all__ = [
    "Alias",
    "Block",
    "Explanation",
    "UnknownQuery",
    "default_lang",
    "explain",
    "layout",
    "lookup",
    "render_text",
]
