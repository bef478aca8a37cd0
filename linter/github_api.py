"""The few GitHub REST calls ``nnlint review`` makes, over the standard library's urllib.

The token goes only to the API URL given: redirects are not followed (a redirect could carry
the ``Authorization`` header to another host), and a paginated list follows its ``next`` link
only on the API's own origin. No message ever contains the token. Responses are read up to a
size cap, and a list stops after :data:`MAX_PAGES` pages, so a hostile or broken server cannot
hold the run.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Optional
from urllib.parse import urljoin, urlsplit

from nnlint import __version__

#: The REST API version the requests are written for.
API_VERSION = "2022-11-28"
MAX_RESPONSE_BYTES = 64_000_000
MAX_PAGES = 50
TIMEOUT_SECONDS = 30


class GitHubError(Exception):
    """A request that failed: ``status`` is the HTTP status, or None when no answer came."""

    def __init__(self, status: Optional[int], message: str) -> None:
        super().__init__(message)
        self.status = status


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None  # the 3xx answer is then an HTTPError


class GitHub:
    def __init__(self, api_url: str, token: str) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubError(None, f"the API URL {api_url!r} is not an http(s) URL")
        self.api_url = api_url.rstrip("/") + "/"
        self._origin = (parts.scheme, parts.netloc)
        self._token = token
        self._opener = urllib.request.build_opener(_NoRedirects)

    def get(self, path: str, accept: str = "application/vnd.github+json") -> bytes:
        return self._request("GET", urljoin(self.api_url, path.lstrip("/")), None, accept)[0]

    def get_json(self, path: str) -> Any:
        return _json(self.get(path), path)

    def post_json(self, path: str, body: dict) -> Any:
        data, _ = self._request("POST", urljoin(self.api_url, path.lstrip("/")), json.dumps(body).encode(),
                                "application/vnd.github+json")
        return _json(data, path)

    def get_all(self, path: str) -> list:
        """Every item of a paginated list (100 a page, at most :data:`MAX_PAGES` pages)."""
        url: Optional[str] = urljoin(self.api_url, path.lstrip("/")) + ("&" if "?" in path else "?") + "per_page=100"
        items: list = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            data, link = self._request("GET", url, None, "application/vnd.github+json")
            page = _json(data, path)
            if not isinstance(page, list):
                raise GitHubError(None, f"GET {path}: the answer is not a list")
            items.extend(page)
            url = self._next(link)
        return items

    def _next(self, link: Optional[str]) -> Optional[str]:
        """The ``next`` page of a ``Link`` header, when it is on the API's origin."""
        match = re.search(r'<([^>]+)>\s*;\s*rel="next"', link or "")
        if match is None:
            return None
        parts = urlsplit(match.group(1))
        return match.group(1) if (parts.scheme, parts.netloc) == self._origin else None

    def _request(self, method: str, url: str, body: Optional[bytes], accept: str) -> tuple[bytes, Optional[str]]:
        request = urllib.request.Request(url, data=body, method=method, headers={
            "Accept": accept, "Authorization": f"Bearer {self._token}", "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"nnlint/{__version__}", **({"Content-Type": "application/json"} if body else {})})
        where = f"{method} {urlsplit(url).path}"
        try:
            with self._opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                data = response.read(MAX_RESPONSE_BYTES + 1)
                link = response.headers.get("Link")
        except urllib.error.HTTPError as exc:
            raise GitHubError(exc.code, f"{where}: HTTP {exc.code} ({_reason(exc)})") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise GitHubError(None, f"{where}: no answer ({reason})") from None
        if len(data) > MAX_RESPONSE_BYTES:
            raise GitHubError(None, f"{where}: the answer is over {MAX_RESPONSE_BYTES // 1_000_000} MB")
        return data, link


def _reason(exc: urllib.error.HTTPError) -> str:
    """GitHub's ``message`` from an error's JSON body, else the HTTP reason, on one line."""
    try:
        message = json.loads(exc.read(100_000)).get("message")
    except Exception:
        message = None
    text = message if isinstance(message, str) and message else str(exc.reason)
    return " ".join(text.split())[:300]


def _json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data) if data.strip() else None
    except ValueError:
        raise GitHubError(None, f"{path}: the answer is not JSON") from None
