"""Which strings may name a stored document: the rule every id is held to before it becomes a store path.

Firestore's own limits (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields):
a document id is valid UTF-8, at most 1,500 bytes, contains no "/", is not "." or "..", and does not match
`__.*__`. A "/" does not fail cleanly there: `collection("windows").document("a/b")` is a path into a
sub-collection, and the client raises ValueError ("A document must have an even number of path elements"),
which surfaced as a 500. Ids that arrive from outside (a task's window_id, a push message's channel id) are
therefore checked here, by the handlers first and by the repository's store guard as the last line.
"""

from __future__ import annotations

import re

MAX_DOCUMENT_ID_BYTES = 1500
_RESERVED = re.compile(r"__.*__", re.DOTALL)


class InvalidDocumentId(ValueError):
    """An id that cannot name a document. Its message names the problem and is safe to return (400)."""


def document_id_problem(doc_id: object) -> str | None:
    """Why `doc_id` cannot name a document, or None when it can."""
    if not isinstance(doc_id, str):
        return f"a document id must be a string, not {type(doc_id).__name__}"
    if not doc_id:
        return "a document id must not be empty"
    if "/" in doc_id:
        return "a document id must not contain '/'"
    if doc_id in (".", ".."):
        return "a document id must not be '.' or '..'"
    if _RESERVED.fullmatch(doc_id):
        return "a document id must not look like __name__ (reserved)"
    try:
        size = len(doc_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "a document id must be valid UTF-8 (it holds a lone surrogate)"
    if size > MAX_DOCUMENT_ID_BYTES:
        return f"a document id must be at most {MAX_DOCUMENT_ID_BYTES} bytes, not {size}"
    return None


def checked_document_id(collection: str, doc_id: object) -> str:
    """`doc_id` itself when it can name a document in `collection`; InvalidDocumentId otherwise."""
    problem = document_id_problem(doc_id)
    if problem is not None:
        raise InvalidDocumentId(f"{collection}: {problem}")
    assert isinstance(doc_id, str)
    return doc_id
