"""Web pages: a list of URLs, the pages of sitemaps, or a crawl bounded by prefix, depth and count.

robots.txt is honoured (``urllib.robotparser``; its Crawl-delay too), requests to one host are
spaced by ``delay_s``, every request has a timeout, and a page seen before is asked for with its
validators (``If-None-Match`` / ``If-Modified-Since``): a 304 costs no download and no embedding.
A page's version is the hash of its body, so a server without validators still re-embeds nothing
unchanged. Pages are read by the HTML loader (main content only). A page that answers 404 or 410,
that a crawl no longer reaches, or that robots.txt now forbids is deleted from the collection.

Example::

    ragline sources add docs --type web --url https://example.org/docs/ --collection docs
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from bs4.element import Tag
from lxml import etree
from pydantic import Field, field_validator, model_validator

from ragline.errors import LoaderError
from ragline.ingest.pipeline import SourceItem
from ragline.settings import Settings
from ragline.sources.base import Cursor, Scan, SourceConfig, body_version, check_size, load_bytes
from ragline.types import Document

log = logging.getLogger(__name__)

# Content types a loader reads, by the extension the loaders know them by.
_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "application/pdf": ".pdf",
    "text/csv": ".csv",
}
# Sitemaps may name further sitemaps; a bound keeps a sitemap loop or a huge index finite.
_MAX_SITEMAPS = 100
# A version no stored digest holds: an item that could not be fetched is always "changed", so it
# is loaded (and fails, reported) instead of being skipped as unchanged.
_UNAVAILABLE = "unavailable"


def _normal(url: str) -> str:
    """A URL without its fragment, scheme and host lower-cased (one key per page)."""
    url = urldefrag(url)[0]
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL; give e.g. https://example.org/docs/")
    return _normal(url)


class WebConfig(SourceConfig):
    """Options of a web source.

    ``mode``: ``crawl`` follows links from ``urls`` (same host, under ``prefix``: by default the
    first URL's folder) up to ``max_depth`` links away; ``sitemap`` reads the pages the sitemaps at
    ``urls`` list; ``urls`` takes exactly the pages given. At most ``max_pages`` pages either way.
    """

    type: Literal["web"] = "web"
    urls: tuple[str, ...] = Field(min_length=1)
    mode: Literal["crawl", "sitemap", "urls"] = "crawl"
    prefix: str | None = None
    max_depth: int = Field(default=2, ge=0, le=100)
    max_pages: int = Field(default=200, ge=1, le=1_000_000)
    # Seconds between requests to one host; None: sources.web_delay_s.
    delay_s: float | None = Field(default=None, ge=0, le=3600)

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_url(u) for u in urls)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str | None) -> str | None:
        return None if prefix is None else _check_url(prefix)

    @model_validator(mode="after")
    def _scope(self) -> WebConfig:
        if self.mode == "crawl":
            scope = self.scope
            outside = [u for u in self.urls if not u.startswith(scope)]
            if outside:
                raise ValueError(f"start URL(s) {outside} are outside the crawl prefix {scope!r}")
        elif self.prefix is not None:
            raise ValueError(f"prefix applies to mode 'crawl' only, not {self.mode!r}; leave it out")
        return self

    def claims(self, name: str) -> tuple[str, ...]:
        # A sitemap's pages are known only when it is read: not checked.
        return (self.scope,) if self.mode == "crawl" else () if self.mode == "sitemap" else self.urls

    @property
    def scope(self) -> str:
        """The prefix every crawled URL starts with."""
        if self.prefix is not None:
            return self.prefix
        first = urlsplit(self.urls[0])
        folder = first.path.rsplit("/", 1)[0] + "/" if "/" in first.path else "/"
        return first._replace(path=folder, query="", fragment="").geturl()


class _Robots:
    """robots.txt per origin, fetched once per scan, and the politeness delay per host."""

    def __init__(self, client: httpx.Client, agent: str, delay: float) -> None:
        self.client, self.agent, self.delay = client, agent, delay
        self._rules: dict[str, RobotFileParser | str] = {}
        self._last: dict[str, float] = {}

    def _origin(self, url: str) -> str:
        p = urlsplit(url)
        return f"{p.scheme}://{p.netloc}"

    def wait(self, url: str) -> None:
        """Sleep until this host may be asked again."""
        origin = self._origin(url)
        rules = self._rules.get(origin)
        crawl_delay = rules.crawl_delay(self.agent) if isinstance(rules, RobotFileParser) else None
        gap = max(self.delay, float(crawl_delay or 0))
        last = self._last.get(origin)
        if last is not None and gap > 0:
            left = last + gap - time.monotonic()
            if left > 0:
                time.sleep(left)
        self._last[origin] = time.monotonic()

    def allowed(self, url: str) -> bool | str:
        """True or False by the origin's robots.txt; a string saying why when robots.txt could not
        be read (a network error or a 5xx): then nothing may be fetched there, and nothing
        deleted on the strength of it either."""
        origin = self._origin(url)
        rules = self._rules.get(origin)
        if rules is None:
            rules = self._read(origin, url)
            self._rules[origin] = rules
        return rules if isinstance(rules, str) else rules.can_fetch(self.agent, url)

    def _read(self, origin: str, url: str) -> RobotFileParser | str:
        rules = RobotFileParser(origin + "/robots.txt")
        self.wait(url)
        try:
            resp = self.client.get(origin + "/robots.txt")
        except httpx.HTTPError as exc:
            return f"robots.txt unreadable ({type(exc).__name__}: {exc})"
        if resp.status_code >= 500:
            return f"robots.txt unreadable (HTTP {resp.status_code})"
        if resp.status_code in (401, 403):
            # As urllib.robotparser: a robots.txt behind a login forbids everything.
            rules.parse(["User-agent: *", "Disallow: /"])
        elif resp.status_code >= 400:
            rules.parse([])  # no robots.txt: nothing is forbidden
        else:
            rules.parse(resp.text.splitlines())
        return rules


class _Fetched:
    """One GET's outcome: a body, not modified (304), gone (404/410) or an error."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "",
        etag: str = "",
        last_modified: str = "",
        error: str = "",
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.etag, self.last_modified, self.error = etag, last_modified, error


def _links(body: bytes, base: str) -> list[str]:
    soup = BeautifulSoup(body, "lxml")
    out: list[str] = []
    for a in soup.find_all("a", href=True):
        href = a.get("href") if isinstance(a, Tag) else None
        if isinstance(href, str) and href.strip():
            url = urljoin(base, href.strip())
            if urlsplit(url).scheme in ("http", "https"):
                out.append(_normal(url))
    return list(dict.fromkeys(out))


def _sitemap_locs(body: bytes) -> tuple[list[str], list[str]]:
    """(pages, nested sitemaps) a sitemap or sitemap index lists."""
    # No entities, no network: a sitemap is untrusted XML.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(body, parser)
    locs = [(el.text or "").strip() for el in root.iter("{*}loc")]
    locs = [u for u in locs if u]
    tag = etree.QName(root).localname
    return ([], locs) if tag == "sitemapindex" else (locs, [])


class WebSource:
    """Syncs web pages (see the module docstring)."""

    def __init__(self, config: WebConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings

    def owns(self, key: str, cursor: Mapping[str, Any]) -> bool:
        pages = cursor.get("pages", {})
        return key in pages or (self.config.mode == "crawl" and key.startswith(self.config.scope))

    def close(self) -> None:
        """Nothing to release: each scan closes its own HTTP client."""

    def scan(self, cursor: Mapping[str, Any]) -> Scan:
        old: dict[str, Any] = dict(cursor.get("pages", {}))
        new: dict[str, Any] = {}

        def remember(failed: set[str]) -> Cursor:
            # A page whose load failed keeps its earlier record, so it is fetched in full next time.
            return {"pages": {u: (old[u] if u in failed and u in old else p) for u, p in new.items()}}

        scan = Scan(items=iter(()), complete=True, cursor=remember)
        scan.items = self._items(scan, old, new)
        return scan

    # -- fetching -----------------------------------------------------------------------------

    def _get(self, client: httpx.Client, url: str, validators: Mapping[str, Any] | None) -> _Fetched:
        headers = {}
        if validators:
            if validators.get("etag"):
                headers["If-None-Match"] = str(validators["etag"])
            if validators.get("last_modified"):
                headers["If-Modified-Since"] = str(validators["last_modified"])
        limit = self.settings.loaders.max_file_mb * 1024 * 1024
        try:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code != 200:
                    return _Fetched(resp.status_code)
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit():
                    check_size(url, int(declared), self.settings.loaders)
                body = bytearray()
                for part in resp.iter_bytes():
                    body += part
                    if len(body) > limit:
                        check_size(url, len(body), self.settings.loaders)
                return _Fetched(
                    200,
                    bytes(body),
                    resp.headers.get("content-type", "").split(";")[0].strip().lower(),
                    resp.headers.get("etag", ""),
                    resp.headers.get("last-modified", ""),
                )
        except httpx.HTTPError as exc:
            return _Fetched(0, error=f"{type(exc).__name__}: {exc}")
        except LoaderError as exc:
            return _Fetched(0, error=exc.reason)

    def _extension(self, url: str, content_type: str) -> str | None:
        ext: str | None = _TYPES.get(content_type)
        if ext is None and not content_type:
            tail = urlsplit(url).path.rsplit("/", 1)[-1]
            ext = "." + tail.rsplit(".", 1)[-1].lower() if "." in tail else None
        return ext if ext in _TYPES.values() else None

    def _documents(self, url: str, body: bytes, ext: str) -> list[Document]:
        return load_bytes(url, f"page{ext}", body, self.settings.loaders, {"url": url})

    def _items(self, scan: Scan, old: dict[str, Any], new: dict[str, Any]) -> Iterator[SourceItem]:
        cfg = self.config
        s = self.settings.sources
        delay = s.web_delay_s if cfg.delay_s is None else cfg.delay_s
        with httpx.Client(
            timeout=s.http_timeout_s, headers={"User-Agent": s.user_agent}, follow_redirects=True
        ) as client:
            robots = _Robots(client, s.user_agent, delay)
            queue: deque[tuple[str, int]] = deque()
            if cfg.mode == "sitemap":
                queue.extend((u, 0) for u in self._sitemap_pages(client, robots, scan))
            else:
                queue.extend((u, 0) for u in cfg.urls)
            queued = {u for u, _ in queue}
            taken = 0
            while queue and taken < cfg.max_pages:
                url, depth = queue.popleft()
                allowed = robots.allowed(url)
                if allowed is False:
                    scan.skipped.append((url, "disallowed by robots.txt"))
                    continue
                taken += 1
                item: SourceItem | None
                if isinstance(allowed, str):
                    item, links = self._unavailable(url, allowed, old, new)
                else:
                    item, links = self._page(client, robots, scan, url, old, new)
                if item is not None:
                    yield item
                if cfg.mode == "crawl" and depth < cfg.max_depth:
                    for link in links:
                        if link not in queued and link.startswith(cfg.scope):
                            queued.add(link)
                            queue.append((link, depth + 1))

    def _page(
        self,
        client: httpx.Client,
        robots: _Robots,
        scan: Scan,
        url: str,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> tuple[SourceItem | None, list[str]]:
        """The item for one page (None when it is gone) and the links it holds."""
        before = old.get(url)
        robots.wait(url)
        got = self._get(client, url, before)
        if got.status == 304 and before is not None:
            new[url] = before
            ext = str(before.get("ext", ".html"))

            def refetch() -> list[Document]:
                # Reached only when the collection lacks this version (changed settings or
                # access): the page is fetched again in full.
                robots.wait(url)
                again = self._get(client, url, None)
                if again.status != 200:
                    raise LoaderError(url, again.error or f"HTTP {again.status}")
                scan.fetched += 1
                return self._documents(url, again.body, ext)

            return SourceItem(url, str(before["version"]), refetch), list(before.get("links", []))
        if got.status in (404, 410):
            return None, []
        if got.status != 200:
            return self._unavailable(url, got.error or f"HTTP {got.status}", old, new)
        scan.fetched += 1
        found = self._extension(url, got.content_type)
        if found is None:
            scan.skipped.append((url, f"unsupported content type {got.content_type!r}"))
            return None, []
        ext = found
        links = _links(got.body, url) if ext == ".html" and self.config.mode == "crawl" else []
        version = body_version(got.body)
        new[url] = {
            "etag": got.etag,
            "last_modified": got.last_modified,
            "version": version,
            "ext": ext,
            "links": links,
        }
        body = got.body
        return SourceItem(url, version, lambda: self._documents(url, body, ext)), links

    @staticmethod
    def _unavailable(
        url: str, reason: str, old: dict[str, Any], new: dict[str, Any]
    ) -> tuple[SourceItem, list[str]]:
        """A page that could not be fetched: reported as failed and kept as indexed; a crawl goes
        on through the links it held last time."""
        before = old.get(url)
        if before is not None:
            new[url] = before

        def fail() -> list[Document]:
            raise LoaderError(url, reason)

        return SourceItem(url, _UNAVAILABLE, fail), list((before or {}).get("links", []))

    def _sitemap_pages(self, client: httpx.Client, robots: _Robots, scan: Scan) -> list[str]:
        pages: list[str] = []
        todo = deque(self.config.urls)
        done: set[str] = set()
        while todo and len(done) < _MAX_SITEMAPS and len(pages) < self.config.max_pages:
            sitemap = todo.popleft()
            if sitemap in done:
                continue
            if robots.allowed(sitemap) is not True:
                raise LoaderError(sitemap, "robots.txt forbids reading this sitemap or could not be read")
            done.add(sitemap)
            robots.wait(sitemap)
            got = self._get(client, sitemap, None)
            if got.status != 200:
                # No page list: nothing may be swept as gone on the strength of it.
                raise LoaderError(sitemap, got.error or f"sitemap answered HTTP {got.status}")
            try:
                found, nested = _sitemap_locs(got.body)
            except etree.XMLSyntaxError as exc:
                raise LoaderError(sitemap, f"sitemap is not valid XML: {exc}") from exc
            pages.extend(_normal(u) for u in found if urlsplit(u).scheme in ("http", "https"))
            todo.extend(_normal(u) for u in nested)
        return list(dict.fromkeys(pages))[: self.config.max_pages]
