"""Google's HTTP batch format: multipart/mixed of application/http parts, in and out.

The answer must be exactly what googleapiclient.http.BatchHttpRequest parses: parts with
Content-ID "<response-{id}>", each an HTTP/1.1 status line, headers and a CRLF CRLF before the body.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser

from infra.calendar_server.errors import bad_request

#: Calendar's batch guide: "You're limited to 1000 calls in a single batch request."
MAX_BATCH_PARTS = 1000


@dataclass(frozen=True)
class BatchPart:
    content_id: str
    method: str
    path: str  # with query string
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class PartResponse:
    content_id: str
    status: int
    reason: str
    content_type: str | None
    body: bytes


def parse_batch(content_type: str, body: bytes) -> list[BatchPart]:
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise bad_request("Batch requests must be multipart/mixed with a boundary.")
    envelope = Parser().parsestr(f"Content-Type: {content_type}\r\n\r\n" + body.decode("utf-8"))
    payload = envelope.get_payload()
    if not envelope.is_multipart() or not isinstance(payload, list) or not payload:
        raise bad_request("Batch request contains no parts.")
    if len(payload) > MAX_BATCH_PARTS:
        # googleapiclient refuses more client-side ("Exceeded the maximum calls(1000) in a single batch request.");
        # the server's own wording is not documented.
        raise bad_request(f"Exceeded the maximum calls({MAX_BATCH_PARTS}) in a single batch request.")
    return [_parse_part(part, index) for index, part in enumerate(payload)]


def _parse_part(part: Message, index: int) -> BatchPart:
    # Long headers arrive folded (RFC 5322 2.2.3); a real server unfolds them before echoing the id.
    content_id = re.sub(r"\r?\n(?=[ \t])", "", part.get("Content-ID") or "") or f"<item{index}>"
    text = part.get_payload()
    if not isinstance(text, str) or not text.strip():
        raise bad_request(f"Batch part {index} is empty.")
    request_line, _, rest = text.lstrip("\r\n").partition("\n")
    pieces = request_line.strip().split(" ")
    if len(pieces) < 2:
        raise bad_request(f"Batch part {index} has no request line.")
    inner = Parser().parsestr(rest)
    headers = {key: value for key, value in inner.items()}
    inner_body = inner.get_payload()
    body = inner_body.encode("utf-8") if isinstance(inner_body, str) else b""
    return BatchPart(content_id, pieces[0].upper(), pieces[1], headers, body.strip(b"\r\n"))


def response_content_id(request_content_id: str) -> str:
    inner = request_content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    return f"<response-{inner}>"


def render_batch(responses: list[PartResponse]) -> tuple[str, bytes]:
    """(content type, body) of the multipart/mixed answer."""
    boundary = f"batch_{secrets.token_hex(12)}"
    chunks: list[bytes] = []
    for response in responses:
        head = [
            f"--{boundary}",
            "Content-Type: application/http",
            f"Content-ID: {response_content_id(response.content_id)}",
            "",
            f"HTTP/1.1 {response.status} {response.reason}",
        ]
        if response.content_type:
            head.append(f"Content-Type: {response.content_type}")
        head.extend([f"Content-Length: {len(response.body)}", "", ""])
        chunks.append("\r\n".join(head).encode() + response.body + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)
