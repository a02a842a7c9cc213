"""The WebDAV/CalDAV XML this adapter sends and reads: request bodies built with ElementTree, answers parsed
with defusedxml (a server's answer is untrusted input: no entity expansion, no external entities).

Requests (RFC 4791 and RFC 6578 section numbers in docs/caldav.md):
- PROPFIND of calendar-timezone (RFC 4791 5.2.2), current-user-principal (RFC 5397), calendar-home-set
  (RFC 4791 6.2.1), and a home's collections with their supported-calendar-component-set (5.2.3);
- REPORT calendar-query with a VEVENT time-range filter and <C:expand> (7.8, 9.6.5, 9.9);
- REPORT free-busy-query (7.10);
- REPORT sync-collection (RFC 6578 3.2), its DAV:valid-sync-token precondition read as "token lost".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urljoin, urlsplit

from defusedxml import ElementTree as SafeET

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
ET.register_namespace("D", DAV)
ET.register_namespace("C", CALDAV)


def _d(name: str) -> str:
    return f"{{{DAV}}}{name}"


def _c(name: str) -> str:
    return f"{{{CALDAV}}}{name}"


def _xml(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def ical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# ---- requests -------------------------------------------------------------------------------------------


def propfind(*props: tuple[str, str]) -> bytes:
    """A PROPFIND for (namespace, name) properties."""
    root = ET.Element(_d("propfind"))
    prop = ET.SubElement(root, _d("prop"))
    for namespace, name in props:
        ET.SubElement(prop, f"{{{namespace}}}{name}")
    return _xml(root)


def calendar_query(low: datetime, high: datetime, *, expand: bool = True) -> bytes:
    """VEVENTs overlapping [low, high), recurrences expanded into instances in UTC (RFC 4791 9.6.5)."""
    root = ET.Element(_c("calendar-query"))
    prop = ET.SubElement(root, _d("prop"))
    ET.SubElement(prop, _d("getetag"))
    data = ET.SubElement(prop, _c("calendar-data"))
    if expand:
        ET.SubElement(data, _c("expand"), start=ical_time(low), end=ical_time(high))
    calendar = ET.SubElement(ET.SubElement(root, _c("filter")), _c("comp-filter"), name="VCALENDAR")
    event = ET.SubElement(calendar, _c("comp-filter"), name="VEVENT")
    ET.SubElement(event, _c("time-range"), start=ical_time(low), end=ical_time(high))
    return _xml(root)


def free_busy_query(low: datetime, high: datetime) -> bytes:
    root = ET.Element(_c("free-busy-query"))
    ET.SubElement(root, _c("time-range"), start=ical_time(low), end=ical_time(high))
    return _xml(root)


def sync_collection(token: str, *, with_data: bool) -> bytes:
    """RFC 6578 3.2; an empty token asks for the initial state (3.8)."""
    root = ET.Element(_d("sync-collection"))
    ET.SubElement(root, _d("sync-token")).text = token
    ET.SubElement(root, _d("sync-level")).text = "1"
    prop = ET.SubElement(root, _d("prop"))
    ET.SubElement(prop, _d("getetag"))
    if with_data:
        ET.SubElement(prop, _c("calendar-data"))
    return _xml(root)


# ---- answers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One <D:response> of a multistatus: a resource, its status and the properties found (text or XML)."""

    href: str
    status: int
    etag: str | None = None
    calendar_data: str | None = None
    props: dict[str, ET.Element] | None = None

    @property
    def name(self) -> str:
        """The resource's last path segment without `.ics`: the port's event id for it."""
        last = unquote(urlsplit(self.href).path.rstrip("/").rpartition("/")[2])
        return last.removesuffix(".ics")


@dataclass(frozen=True)
class Multistatus:
    members: tuple[Member, ...]
    sync_token: str | None = None
    #: RFC 6578 3.6: the server answered part of the changes; ask again from sync_token for the rest.
    truncated: bool = False


class NotMultistatus(ValueError):
    """The answer is not the XML a 207 promises."""


def parse_multistatus(body: bytes) -> Multistatus:
    try:
        root = SafeET.fromstring(body)
    except (ET.ParseError, SafeET.ParseError, ValueError) as bad:
        raise NotMultistatus(f"unreadable multistatus: {type(bad).__name__}") from None
    if root.tag != _d("multistatus"):
        raise NotMultistatus(f"expected DAV:multistatus, got {root.tag[:80]}")
    members: list[Member] = []
    truncated = False
    for response in root.findall(_d("response")):
        href = (response.findtext(_d("href")) or "").strip()
        whole = _status(response.findtext(_d("status")))
        if whole is not None:
            truncated = truncated or whole == 507
            members.append(Member(href, whole))
            continue
        found: dict[str, ET.Element] = {}
        for propstat in response.findall(_d("propstat")):
            if _status(propstat.findtext(_d("status"))) != 200:
                continue
            for prop in propstat.find(_d("prop")) or []:
                found[prop.tag] = prop
        etag = found[_d("getetag")].text if _d("getetag") in found else None
        data = found[_c("calendar-data")].text if _c("calendar-data") in found else None
        members.append(Member(href, 200, etag.strip() if etag else None, data, found))
    return Multistatus(tuple(members), (root.findtext(_d("sync-token")) or "").strip() or None, truncated)


def error_conditions(body: bytes) -> set[str]:
    """The precondition names of a DAV:error answer (RFC 4918 16), e.g. {"valid-sync-token"}."""
    try:
        root = SafeET.fromstring(body)
    except (ET.ParseError, SafeET.ParseError, ValueError):
        return set()
    if root.tag != _d("error"):
        return set()
    return {child.tag.rpartition("}")[2] for child in root}


def href_of(member_prop: ET.Element | None, base: str) -> str | None:
    """The absolute URL of the first <D:href> inside a property (a principal, a home set)."""
    if member_prop is None:
        return None
    href = member_prop.findtext(_d("href"))
    return urljoin(base, href.strip()) if href else None


def prop_text(member: Member, namespace: str, name: str) -> str | None:
    element = (member.props or {}).get(f"{{{namespace}}}{name}")
    return element.text if element is not None and element.text else None


def is_event_calendar(member: Member) -> bool:
    """A calendar collection (RFC 4791 4.2) that accepts VEVENTs (5.2.3; absent means any component)."""
    props = member.props or {}
    kind = props.get(_d("resourcetype"))
    if kind is None or kind.find(_c("calendar")) is None:
        return False
    components = props.get(_c("supported-calendar-component-set"))
    if components is None:
        return True
    return any(comp.get("name", "").upper() == "VEVENT" for comp in components.findall(_c("comp")))


def _status(line: str | None) -> int | None:
    """`HTTP/1.1 404 Not Found` → 404."""
    if not line:
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
