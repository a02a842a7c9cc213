"""One requests.Session with a connection pool sized for the adapter's concurrent calls.

requests' default pool keeps 10 connections per host; an adapter that sends `concurrency` calls at once
needs at least that many, and retries are the shared retry's (http_retry.py), never urllib3's.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


def pooled_session(concurrency: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0, pool_connections=concurrency, pool_maxsize=concurrency * 2)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
