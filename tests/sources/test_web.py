"""The web source against a site served by a local http.server: crawl bounds, robots.txt,
conditional requests (a second sync downloads and embeds nothing), deletions, sitemaps, URL lists."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from ragline.engine import Engine
from ragline.errors import ConfigError
from ragline.sources import definition_from
from ragline.types import Principal
from tests.fake_server import QuietServer
from tests.sources.conftest import add_source, counts, readable

pytestmark = pytest.mark.integration

REQUESTS: list[str] = []
SERVERS: list[QuietServer] = []


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        REQUESTS.append(self.path)


def _page(title: str, body: str, links: list[str] = ()) -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f"<html><head><title>{title}</title></head><body><nav><ul>{anchors}</ul></nav>"
        f"<main><h1>{title}</h1><p>{body}</p></main></body></html>"
    )


def _write(root: Path, rel: str, text: str, mtime: float | None = None) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    t0 = time.time() - 1000
    _write(root, "robots.txt", "User-agent: *\nDisallow: /docs/private/\n", t0)
    _write(
        root,
        "docs/index.html",
        _page(
            "Index",
            "Welcome to the zebra handbook.",
            ["a.html", "b.html", "private/secret.html", "/outside.html"],
        ),
        t0,
    )
    _write(
        root, "docs/a.html", _page("Alpha", "Alpha pages talk about aardvarks.", ["c.html", "index.html"]), t0
    )
    _write(root, "docs/b.html", _page("Beta", "Beta pages talk about beavers."), t0)
    _write(root, "docs/c.html", _page("Gamma", "Gamma pages talk about gazelles.", ["d.html"]), t0)
    _write(root, "docs/d.html", _page("Delta", "Too deep: dolphins."), t0)
    _write(root, "docs/private/secret.html", _page("Secret", "Robots keep this out: swordfish."), t0)
    _write(root, "outside.html", _page("Outside", "Outside the prefix: ostriches."), t0)
    server = QuietServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SERVERS.append(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_crawl_is_bounded_honours_robots_and_resyncs_nothing_unchanged(
    engine: Engine, site: tuple[str, Path]
) -> None:
    base, root = site
    add_source(engine, "docs", {"type": "web", "urls": [f"{base}/docs/index.html"], "max_depth": 2})

    first = engine.sync_source("docs")
    pages = {f"{base}/docs/{p}.html" for p in ("index", "a", "b", "c")}
    assert readable(engine, "c") == pages  # d is 3 links away, outside.html outside the prefix
    assert counts(first) == {
        "fetched": 4,
        "added": 4,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
    }
    assert (f"{base}/docs/private/secret.html", "disallowed by robots.txt") in first.skipped
    assert not any("secret" in r or "outside" in r for r in REQUESTS)
    hits = engine.search("gazelles", collection="c", mode="keyword")
    assert hits and hits[0].chunk.source == f"{base}/docs/c.html"
    assert hits[0].chunk.metadata["url"] == f"{base}/docs/c.html"
    assert "Index" not in hits[0].chunk.text  # the nav menu is not main content

    again = engine.sync_source("docs")
    # Every page answered 304 Not Modified: nothing downloaded, nothing embedded.
    assert counts(again) == {
        "fetched": 0,
        "added": 0,
        "updated": 0,
        "unchanged": 4,
        "deleted": 0,
        "failed": 0,
    }
    assert again.chunks_indexed == 0 and again.chunks_embedded == 0

    later = time.time()
    _write(root, "docs/b.html", _page("Beta", "Beta pages now talk about bison."), later)
    (root / "docs/c.html").unlink()  # still linked from a.html: a 404
    third = engine.sync_source("docs")
    assert counts(third) == {
        "fetched": 1,
        "added": 0,
        "updated": 1,
        "unchanged": 2,
        "deleted": 1,
        "failed": 0,
    }
    assert readable(engine, "c") == pages - {f"{base}/docs/c.html"}
    assert not engine.search("gazelles", collection="c", mode="keyword")
    assert engine.search("bison", collection="c", mode="keyword")[0].chunk.source == f"{base}/docs/b.html"


def test_a_page_no_longer_linked_is_deleted(engine: Engine, site: tuple[str, Path]) -> None:
    base, root = site
    add_source(engine, "docs", {"type": "web", "urls": [f"{base}/docs/index.html"], "max_depth": 1})
    engine.sync_source("docs")
    assert f"{base}/docs/b.html" in readable(engine, "c")
    _write(root, "docs/index.html", _page("Index", "Welcome to the zebra handbook.", ["a.html"]), time.time())
    report = engine.sync_source("docs")
    assert report.deleted == 1
    assert readable(engine, "c") == {f"{base}/docs/index.html", f"{base}/docs/a.html"}


def test_an_unreachable_site_deletes_nothing(engine: Engine, site: tuple[str, Path]) -> None:
    base, _ = site
    add_source(engine, "docs", {"type": "web", "urls": [f"{base}/docs/index.html"], "max_depth": 2})
    engine.sync_source("docs")
    before = readable(engine, "c")
    SERVERS[-1].shutdown()
    SERVERS[-1].server_close()
    report = engine.sync_source("docs")
    # Each page failed (the crawl went on through the links it remembered, robots.txt unread:
    # nothing fetched, nothing skipped as disallowed); none was deleted.
    assert {key for key, _ in report.failed} >= before and report.deleted == 0
    assert all("robots.txt unreadable (ConnectError" in reason for _, reason in report.failed)
    assert readable(engine, "c") == before


def test_sitemap_pages_and_a_page_dropped_from_it(engine: Engine, site: tuple[str, Path]) -> None:
    base, root = site
    entries = lambda pages: "".join(f"<url><loc>{base}/docs/{p}</loc></url>" for p in pages)  # noqa: E731
    head = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    _write(root, "sitemap.xml", head + entries(["a.html", "d.html"]) + "</urlset>")
    add_source(engine, "map", {"type": "web", "mode": "sitemap", "urls": [f"{base}/sitemap.xml"]})
    assert engine.sync_source("map").added == 2
    assert readable(engine, "c") == {f"{base}/docs/a.html", f"{base}/docs/d.html"}  # no link followed
    _write(root, "sitemap.xml", head + entries(["a.html"]) + "</urlset>")
    report = engine.sync_source("map")
    assert (report.deleted, report.unchanged) == (1, 1)
    assert readable(engine, "c") == {f"{base}/docs/a.html"}


def test_url_list_reports_a_missing_page_and_a_sitemap_failure_deletes_nothing(
    engine: Engine, site: tuple[str, Path]
) -> None:
    base, _ = site
    add_source(
        engine, "list", {"type": "web", "mode": "urls", "urls": [f"{base}/docs/b.html", f"{base}/nope.html"]}
    )
    report = engine.sync_source("list")
    assert report.added == 1 and readable(engine, "c") == {f"{base}/docs/b.html"}

    add_source(engine, "map", {"type": "web", "mode": "sitemap", "urls": [f"{base}/missing.xml"]})
    with pytest.raises(Exception, match=r"missing\.xml.*HTTP 404"):
        engine.sync_source("map")
    assert readable(engine, "c") == {f"{base}/docs/b.html"}


def test_a_tenant_scoped_web_source_is_invisible_to_another_tenant(
    engine: Engine, site: tuple[str, Path]
) -> None:
    base, _ = site
    add_source(
        engine,
        "docs",
        {"type": "web", "mode": "urls", "urls": [f"{base}/docs/b.html"]},
        tenant="acme",
        groups=("eng",),
    )
    assert engine.sync_source("docs", tenant="acme").added == 1
    assert readable(engine, "c", Principal("acme", ("eng",))) == {f"{base}/docs/b.html"}
    assert readable(engine, "c", Principal("acme", ("sales",))) == set()
    assert readable(engine, "c", Principal("globex", ("eng",))) == set()
    assert readable(engine, "c") == set()  # the default tenant
    assert not engine.search("beavers", collection="c", principal=Principal("acme", ("sales",)))


def test_web_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        definition_from(name="w", collection="c", config={"type": "web", "urls": ["ftp://x/"]})
    with pytest.raises(ConfigError, match="outside the crawl prefix"):
        definition_from(
            name="w",
            collection="c",
            config={"type": "web", "urls": ["http://x/a/"], "prefix": "http://x/b/"},
        )
    with pytest.raises(ConfigError, match="max_pagez"):
        definition_from(
            name="w", collection="c", config={"type": "web", "urls": ["http://x/"], "max_pagez": 3}
        )


def test_max_pages_bounds_the_crawl(engine: Engine, site: tuple[str, Path]) -> None:
    base, _ = site
    add_source(engine, "docs", {"type": "web", "urls": [f"{base}/docs/index.html"], "max_pages": 2})
    assert engine.sync_source("docs").added == 2
    assert readable(engine, "c") == {f"{base}/docs/index.html", f"{base}/docs/a.html"}  # breadth first


@pytest.mark.parametrize(("delay", "crawl_delay", "waits"), [(0.0, 7, 7.0), (3.0, None, 3.0), (9.0, 7, 9.0)])
def test_requests_to_a_host_are_spaced(
    engine: Engine,
    site: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    delay: float,
    crawl_delay: int | None,
    waits: float,
) -> None:
    """The larger of the source's delay and robots.txt's Crawl-delay separates two requests (the
    sleeps asked for are recorded instead of slept)."""
    base, root = site
    rules = "User-agent: *\nDisallow: /docs/private/\n" + (
        f"Crawl-delay: {crawl_delay}\n" if crawl_delay else ""
    )
    _write(root, "robots.txt", rules)
    slept: list[float] = []
    monkeypatch.setattr("ragline.sources.web.time.sleep", slept.append)
    add_source(
        engine, "docs", {"type": "web", "mode": "urls", "urls": [f"{base}/docs/a.html"], "delay_s": delay}
    )
    engine.sync_source("docs")
    # robots.txt, then the page: one wait between them, of (almost all of) the gap.
    assert len(slept) == 1 and waits - 1 < slept[0] <= waits


@pytest.mark.parametrize("keep", [False, True])
def test_removing_a_source_deletes_its_pages_unless_kept(
    engine: Engine, site: tuple[str, Path], keep: bool
) -> None:
    base, _ = site
    add_source(
        engine,
        "docs",
        {"type": "web", "mode": "urls", "urls": [f"{base}/docs/a.html", f"{base}/docs/b.html"]},
    )
    add_source(engine, "other", {"type": "web", "mode": "urls", "urls": [f"{base}/outside.html"]})
    engine.sync_source("docs")
    engine.sync_source("other")
    assert engine.remove_source("docs", keep_documents=keep) == (0 if keep else 2)
    left = {f"{base}/outside.html"} | ({f"{base}/docs/a.html", f"{base}/docs/b.html"} if keep else set())
    assert readable(engine, "c") == left
    with pytest.raises(ConfigError, match=r"no source 'docs'.*existing: other"):
        engine.sync_source("docs")
