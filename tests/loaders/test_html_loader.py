from __future__ import annotations

from pathlib import Path

import pytest

from ragline.loaders.html import HtmlLoader
from ragline.types import Document

_SPHINX = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Installation &#8212; Demo 1.0 documentation</title>
<meta name="description" content="How to install   Demo">
<script>var x = "SCRIPTTEXT";</script><style>body{color:red}</style></head>
<body>
<div class="related" role="navigation" aria-label="related navigation">
 <h3>Navigation</h3><ul><li><a href="genindex.html">RELATEDNAV index</a></li></ul>
</div>
<div class="document">
  <div class="documentwrapper">
    <div class="bodywrapper">
      <div class="body" ROLE_MAIN>
  <section id="installation">
<h1>Installation<a class="headerlink" href="#installation" title="Permalink to this heading">¶</a></h1>
<p>Install the package with <code class="docutils literal notranslate"><span class="pre">pip</span>
<span class="pre">install</span> <span class="pre">demo</span></code>.
It needs <strong>Python</strong> <em>3.11</em> or newer.</p>
<section id="linux">
<h2>Linux<a class="headerlink" href="#linux" title="Permalink to this heading">¶</a></h2>
<div class="highlight-bash notranslate"><div class="highlight">
<pre><span></span><span class="c1"># create a venv</span>
python -m venv .venv
</pre></div></div>
<ul class="simple">
<li><p>first item</p></li>
<li><p>second item</p>
<ul><li>nested item</li></ul></li>
</ul>
<table class="docutils align-default">
<thead><tr><th class="head"><p>Option</p></th><th class="head"><p>Meaning</p></th></tr></thead>
<tbody><tr><td><p>-v</p></td><td><p>verbose output</p></td></tr></tbody>
</table>
<p>Line one<br>Line two</p>
</section>
</section>
      </div>
    </div>
  </div>
  <div class="sphinxsidebar" role="navigation" aria-label="main navigation">
    <div class="sphinxsidebarwrapper">
<h1 class="logo"><a href="index.html">SIDEBARLOGO</a></h1>
<h3>SIDEBARNAV Navigation</h3>
<div id="searchbox" role="search">
  <form class="search" action="search.html" method="get"><input type="text" name="q" /></form>
</div>
    </div>
  </div>
  <div class="clearer"></div>
</div>
<div class="footer">FOOTERTEXT &#169;2024</div>
</body>
</html>
"""

_EXPECTED_SPHINX_TEXT = """# Installation

Install the package with pip install demo. It needs Python 3.11 or newer.

## Linux

```
# create a venv
python -m venv .venv
```

- first item
- second item
 - nested item

| Option | Meaning |
| --- | --- |
| -v | verbose output |

Line one
Line two"""


@pytest.mark.parametrize("role_main", ['role="main"', ""], ids=["role-main", "body-fallback"])
def test_sphinx_layout_keeps_main_content_only(tmp_path: Path, role_main: str) -> None:
    path = tmp_path / "install.html"
    path.write_text(_SPHINX.replace("ROLE_MAIN", role_main), encoding="utf-8")
    [doc] = HtmlLoader().load(path)
    assert doc.text == _EXPECTED_SPHINX_TEXT
    for absent in ("SCRIPTTEXT", "color:red", "RELATEDNAV", "SIDEBARNAV", "SIDEBARLOGO", "FOOTERTEXT", "¶"):
        assert absent not in doc.text
    assert doc.title == "Installation — Demo 1.0 documentation"
    assert doc.metadata == {
        "lang": "en",
        "description": "How to install Demo",
        "file_name": "install.html",
        "file_type": "html",
    }


_BLOG = """<html><head><title>  My   Blog  </title></head>
<body class="has-sidebar">
<header class="site-header"><a href="/">SITENAME</a><nav><a href="/about">NAVLINK About</a></nav></header>
<div id="cookie-banner">COOKIE consent please</div>
<div class="wrapper with-sidebar">
  <aside class="sidebar">ASIDE recent posts</aside>
  <div class="breadcrumbs">BREADCRUMB Home / Posts</div>
  <article>
    <header><h1>Post title</h1><p class="byline">by Ada</p></header>
    <p>First<b>bold</b>glued and <a href="x">a link</a>, then<span>span</span>.</p>
    <div>Block one</div><div>Block two</div>
    <ol><li>step one</li><li>step two</li></ol>
    <footer>ARTICLEFOOTER tags</footer>
  </article>
  <div class="topnav">TOPNAV links</div>
  <ul class="menu"><li>MENUITEM</li></ul>
</div>
<footer>PAGEFOOTER</footer>
<noscript>NOSCRIPT</noscript><template>TEMPLATE</template>
</body></html>"""


def test_blog_layout_drops_furniture_and_keeps_article(tmp_path: Path) -> None:
    path = tmp_path / "post.htm"
    path.write_text(_BLOG)
    [doc] = HtmlLoader().load(path)
    assert doc.text == (
        "# Post title\n\nby Ada\n\nFirstboldglued and a link, thenspan.\n\n"
        "Block one\n\nBlock two\n\n- step one\n- step two"
    )
    assert doc.title == "My Blog"
    assert doc.metadata["file_type"] == "htm"


def test_body_fallback_spares_wrappers_named_like_furniture(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    body = " ".join(["content"] * 50)
    path.write_text(
        f"<html><body><div class='page-with-sidebar'><h2>Topic</h2><p>{body}</p>"
        "<div class='sidebar'>SIDE</div></div>"
        "<form id='aspnetForm'><p>FORMCONTENT " + "word " * 200 + "</p></form></body></html>"
    )
    [doc] = HtmlLoader().load(path)
    assert doc.text.startswith("## Topic\n\ncontent content")
    assert "FORMCONTENT" in doc.text
    assert "SIDE" not in doc.text


def test_no_words_glued_across_blocks_and_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.html"
    path.write_text(
        "<main><p>alpha</p><p>beta</p><table><tr><td>c1</td><td>c2</td></tr>"
        "<tr><td>d1</td><td><b>d2</b> x</td></tr></table><dl><dt>term</dt><dd>def</dd></dl></main>"
    )
    [doc] = HtmlLoader().load(path)
    assert doc.text == "alpha\n\nbeta\n\n| c1 | c2 |\n| --- | --- |\n| d1 | d2 x |\n\nterm\n\ndef"
    assert doc.title == ""


def test_title_falls_back_to_first_h1_and_comments_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "x.html"
    path.write_text("<body><!-- COMMENT --><h1>Heading <em>One</em></h1><h3>Deep</h3><p>t</p></body>")
    [doc] = HtmlLoader().load(path)
    assert doc.title == "Heading One"
    assert doc.text == "# Heading One\n\n### Deep\n\nt"


def test_page_without_text_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><body><nav>only nav</nav><script>x()</script></body></html>")
    assert HtmlLoader().load(path) == []


def test_charset_from_meta_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.html"
    path.write_bytes(
        b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \x93ok\x94</p></body></html>'
    )
    [doc] = HtmlLoader().load(path)
    assert doc.text == "Café “ok”"


def test_long_link_list_named_sidebar_is_dropped_but_long_prose_is_not(tmp_path: Path) -> None:
    links = "".join(f'<li><a href="/p{i}">SIDELINK number {i}</a></li>' for i in range(40))
    prose = "This paragraph is real content in a box whose class says sidebar. " * 6
    path = tmp_path / "side.html"
    path.write_text(
        f"<body><div class='sidebar-links'><ul>{links}</ul></div>"
        f"<div class='content-sidebar'><p>{prose}</p></div>"
        f"<div><p>{'Main words here. ' * 80}</p></div></body>"
    )
    [doc] = HtmlLoader().load(path)
    assert "SIDELINK" not in doc.text
    assert "real content in a box" in doc.text
    assert "Main words here." in doc.text


# Issue 21: deeply nested HTML took 45 s at 10k levels (each element's `decomposed` check scanned its
# whole subtree) and failed with a recursion error in the renderer.
@pytest.mark.parametrize("tag", ["div", "span", "blockquote", 'div class="sidebar"', "header"])
def test_deeply_nested_html_yields_its_text(tmp_path: Path, tag: str) -> None:
    depth = 30_000
    path = tmp_path / "deep.html"
    path.write_text(
        "<html><head><title>Deep</title></head><body><nav>NAVLINK</nav><article>"
        + "<h1>Top heading</h1><p>Intro paragraph.</p>"
        + f"<{tag}>level " * depth
        + "innermost words"
        + f"</{tag.split()[0]}>" * depth
        + "<p>After the nest.</p></article></body></html>"
    )
    [doc] = HtmlLoader().load(path)
    assert doc.title == "Deep"
    assert doc.text.startswith("# Top heading\n\nIntro paragraph.")
    assert doc.text.count("level") == depth
    assert "innermost words" in doc.text
    assert doc.text.endswith("After the nest.")
    assert "NAVLINK" not in doc.text


def test_deeply_nested_lists_keep_the_shallow_structure(tmp_path: Path) -> None:
    depth = 20_000
    path = tmp_path / "lists.html"
    path.write_text(
        "<html><body><ul><li>outer item</li></ul>"
        + "<ul><li>nested " * depth
        + "bottom"
        + "</li></ul>" * depth
        + "<nav><a href='/'>NAVLINK</a></nav></body></html>"
    )
    [doc] = HtmlLoader().load(path)
    assert doc.text.startswith("- outer item\n\n- nested\n - nested\n")
    assert doc.text.count("nested") == depth
    assert "bottom" in doc.text
    assert "NAVLINK" not in doc.text


# The head of git-doc's asciidoc pages (CRLF, its stylesheet inline): past a kilobyte of it, bs4
# meets a root tag other than "html" and warns that the page should be parsed as XML.
_XHTML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN"\n'
    '    "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en">\r\n<head>\r\n'
    '<meta http-equiv="Content-Type" content="application/xhtml+xml; charset=UTF-8" />\r\n'
    '<title>git-config(1)</title>\r\n<style type="text/css">\r\n'
    + "p { margin: 0; }\r\n"
    * 80
    + '</style>\r\n</head>\r\n<body><h2>Variables</h2><div class="dlist"><dl>'
    '<dt class="hdlist1">gc.auto</dt>\r\n<dd><p>When there are approximately more than this many '
    "loose objects, git gc --auto will pack them. The default value is 6700.</p></dd></dl></div>"
    "</body></html>"
)


@pytest.mark.integration
def test_an_xhtml_page_loads_as_html_without_bs4s_parse_as_xml_warning(tmp_path: Path) -> None:
    import subprocess
    import sys

    page = tmp_path / "git-config.html"
    page.write_text(_XHTML)
    # A fresh interpreter with every warning shown: what a user running `ragline ingest` sees.
    code = (
        "import sys; from pathlib import Path; from ragline.loaders.html import HtmlLoader; "
        "[d] = HtmlLoader().load(Path(sys.argv[1])); print(d.title); print(d.text)"
    )
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", code, str(page)], capture_output=True, text=True, check=True
    )
    assert "XMLParsedAsHTMLWarning" not in out.stderr, out.stderr
    assert out.stdout.startswith("git-config(1)")
    assert "gc.auto\n\nWhen there are approximately" in out.stdout
    assert "The default value is 6700." in out.stdout


def test_prose_wrapped_in_pre_reads_as_paragraphs_and_code_stays_code(tmp_path: Path) -> None:
    # HAProxy's manual (dconv) and other text-born manuals wrap every paragraph in <pre> at ~78
    # columns: fenced whole, its sentences were code the answerer never quoted.
    page = tmp_path / "configuration.html"
    page.write_text(
        "<html><head><title>Manual</title></head><body><h2>hash-type</h2>"
        '<pre class="text">Specify a method to use for mapping hashes to servers\n\n'
        'The default hash type is "map-based" and is recommended for most usages. The\n'
        'default function is "sdbm", the selection of a function should be based on\n'
        "the range of the values being hashed.\n\n"
        "Example :\n    backend app\n        hash-type consistent\n</pre>"
        "<pre>backend app\n    server s1 10.0.0.1:80 check inter 2000\n</pre>"
        "<pre>2019-09-09 18:50:49 client ::1#54175 (example.net): rpz QNAME NXDOMAIN rewrite via it.</pre>"
        "<pre>dig +qr www.isc.org any -x 127.0.0.1 isc.org ns +noqr</pre>"
        "<pre># comment that reads like a sentence of prose in the code.\nx = 1</pre>"
        "</body></html>"
    )
    [doc] = HtmlLoader().load(page)
    blocks = doc.text.split("\n\n")
    assert (
        'The default hash type is "map-based" and is recommended for most usages. The default function is '
        '"sdbm", the selection of a function should be based on the range of the values being hashed.'
    ) in blocks
    assert "```\nExample :\n" in doc.text  # the example after the prose stays code
    assert "```\nSpecify a method to use for mapping hashes to servers\n```" in doc.text  # no sentence
    # Code, a log line, a command and a commented block stay fenced, as before.
    assert "```\nbackend app\n" in doc.text
    assert "```\n2019-09-09 18:50:49 client" in doc.text
    assert "```\ndig +qr" in doc.text
    assert "```\n# comment that reads like a sentence" in doc.text


# Two DocBook reference entries on one page (as PostGIS's single-page manual and PostgreSQL's
# reference pages write them): every section of an entry is an <h2>, the entry's name only in the
# "Name" section's paragraph.
REFENTRIES = """<html><head><title>PostGIS Manual</title></head><body>
<div class="chapter"><h1>8. Geometry Processing</h1>
<div class="refentry"><div class="refnamediv"><h2>Name</h2><p>ST_Buffer &#8212;
Computes a geometry covering all points within a given distance from a geometry.</p></div>
<div class="refsynopsisdiv"><h2>Synopsis</h2>
<p><code>geometry ST_Buffer(geometry g1, float radius);</code></p></div>
<div class="refsection"><h2>Description</h2><p>The accuracy of circular arcs is the number of line
segments used to approximate a quarter circle (default is 8).</p>
<h3>Notes</h3><p>For geography, the distance is specified in meters.</p></div></div>
<div class="refentry"><div class="refnamediv"><h2>Name</h2><p>ST_Area &#8212; Returns the area of a
polygonal geometry.</p></div>
<div class="refsection"><h2>Description</h2><p>Returns the area of a polygonal geometry.</p></div></div>
<h2>8.4. Geometry Accessors</h2><p>These functions read parts of a geometry.</p>
</div>
<h1>9. Raster Reference</h1><h2>Name</h2><p>Just a paragraph about names, with no dash.</p>
<h2>Description</h2><p>A section of its own.</p>
</body></html>"""


def test_a_reference_entrys_sections_sit_under_its_name(tmp_path: Path) -> None:
    page = tmp_path / "postgis.html"
    page.write_text(REFENTRIES)
    [doc] = HtmlLoader().load(page)
    headings = [line for line in doc.text.split("\n") if line.startswith("#")]
    assert headings == [
        "# 8. Geometry Processing",
        "## ST_Buffer",
        "### Synopsis",
        "### Description",
        "#### Notes",
        "## ST_Area",
        "### Description",
        # A section of the manual at the entry's level ends it, as a higher heading does;
        # a "Name" section whose paragraph names nothing is left.
        "## 8.4. Geometry Accessors",
        "# 9. Raster Reference",
        "## Name",
        "## Description",
    ]
    # The name's paragraph stays: it says what the entry does.
    assert "ST_Buffer — Computes a geometry covering all points" in doc.text


def test_a_list_item_that_opens_with_code_keeps_its_fences_on_their_own_lines(tmp_path: Path) -> None:
    from ragline.chunking.structure import parse_headings

    # PostGIS's tiger geocoder steps: an item whose first block is a program listing, then a
    # listing whose output has a "-----" underline. "- ```" was no fence to the chunker, so the
    # closing one opened a block and the listing's output read as a heading ("count").
    page = tmp_path / "steps.html"
    page.write_text(
        "<html><body><h2>Loading</h2><ol>"
        "<li><pre>psql -c \"SELECT Loader_Generate_Script(ARRAY['MA'])\"</pre></li>"
        "<li><p>Run the generated scripts.</p><pre>count\n-------\n3233\n(1 row)</pre></li></ol>"
        "<h2>Next step</h2><p>Text.</p></body></html>"
    )
    [doc] = HtmlLoader().load(page)
    assert [h.title for h in parse_headings(doc.text)] == ["Loading", "Next step"]
    assert "-\n  ```" in doc.text or "-\n ```" in doc.text


def test_pre_lines_that_each_name_a_thing_and_describe_it_become_table_rows(tmp_path: Path) -> None:
    # A developer guide's status words typed as text: each line one row, so that an answer can
    # quote one flag's line; code, comments and config stanzas stay code.
    text = loaded_text(
        tmp_path,
        "<html><body><h2>Status data</h2><p>Possible values:</p><pre>"
        "OL      -- On line (mains is present)\nOB      -- On battery (mains is not present)\n"
        "LB      -- Low battery</pre>"
        "<pre>1 - pack data\n2 - progress messages\n3 - fatal error message just before stream aborts</pre>"
        "<pre>'/1c2/000+000000' // First page in overflow chain\n'/1c2/000+000001' // Second page\n"
        "'/1c2/000+000002' // Third page</pre>"
        "<pre>1.2.3.4: data for 1.2.3.4\n192.168.0.0/16: data for 192.168.0.0/16\n"
        '"abcd::cdab": data for abcd::cdab</pre>'
        "<pre>[myups]\n        driver = usbhid-ups\n        port = auto\n        desc = UPS</pre>"
        "<pre>command = create / delete / update\ncreate = zero-id SP new_id SP name\n"
        "delete = old_id SP zero-id SP name</pre></body></html>",
    )
    assert "| OL | On line (mains is present) |\n| OB | On battery (mains is not present) |" in text
    assert "| 2 | progress messages |" in text
    assert "```\n'/1c2/000+000000' // First page" in text
    assert "```\n1.2.3.4: data for 1.2.3.4" in text
    assert "```\n[myups]" in text and "| driver" not in text and "| [myups]" not in text
    assert "```\ncommand = create / delete / update" in text


def test_a_pre_list_of_options_over_their_indented_descriptions_becomes_table_rows(tmp_path: Path) -> None:
    # A man page's option list typed into <pre>: one row per option, so an answer can quote the
    # option that tests the configuration; an indented config stanza stays code.
    text = loaded_text(
        tmp_path,
        "<html><body><h2>Starting</h2><p>The options are:</p><pre>\n"
        " -h, --help\n     Display proftpd usage\n"
        " -d [level], --debug\n     Set debugging level (0-9, 9 = most debugging)\n"
        " -t, --configtest\n     Test the syntax of the specified config\n"
        " -v, --version\n     Print version number and exit\n</pre>"
        "<pre>\n--with-modules\n  mod_tls:mod_sql\n--prefix\n  /usr/local\n--sysconfdir\n  /etc\n</pre>"
        "<pre>\n&lt;Directory /srv&gt;\n  Umask 022\n&lt;/Directory&gt;\n</pre></body></html>",
    )
    assert "| -t, --configtest | Test the syntax of the specified config |" in text
    assert "| -d [level], --debug | Set debugging level (0-9, 9 = most debugging) |" in text
    # Values under options, not descriptions: still code.
    assert "```\n--with-modules\n" in text and "| --with-modules" not in text
    assert "```\n<Directory /srv>\n" in text and "| <Directory" not in text


def loaded_text(tmp_path: Path, html: str) -> str:
    """The text the HTML loader reads from a page of ``html``."""
    page = tmp_path / "p.html"
    page.write_text(html)
    [doc] = HtmlLoader().load(page)
    return doc.text


def test_in_page_links_hidden_from_screen_readers_leave_the_heading(tmp_path: Path) -> None:
    # texinfo's HTML (FFmpeg's manuals) follows every heading with "#" and "TOC" links the page
    # hides from screen readers; a visible in-page link and a hidden link elsewhere keep their text.
    path = tmp_path / "filters.html"
    path.write_text(
        "<html><body>"
        '<h3 class="section">11.11 blackdetect<span class="pull-right">'
        '<a class="anchor hidden-xs" href="#blackdetect" aria-hidden="true">#</a> '
        '<a class="anchor hidden-xs" href="#toc-blackdetect" aria-hidden="true">TOC</a></span></h3>'
        '<p>Detect black intervals; see <a href="#blackframe">blackframe</a> and '
        '<a href="other.html#x" aria-hidden="true">OTHERPAGE</a>.</p>'
        "</body></html>",
        encoding="utf-8",
    )
    [doc] = HtmlLoader().load(path)
    assert doc.text == "### 11.11 blackdetect\n\nDetect black intervals; see blackframe and OTHERPAGE."


def test_a_pages_own_table_of_contents_is_dropped_and_other_link_lists_kept(tmp_path: Path) -> None:
    # texinfo's local contents: every entry a link into the page that repeats a heading; a chunked
    # manual's contents links to other pages and a list with prose around its links stay.
    path = tmp_path / "faq.html"
    path.write_text(
        "<html><body><h1>FAQ</h1>"
        '<ul class="no-bullet"><li><a href="#usage">3 Usage</a><ul>'
        '<li><a href="#pictures">3.2 How do I encode single pictures into movies?</a></li>'
        '<li><a href="#rate">3.7 Why can I not change the frame rate?</a></li></ul></li></ul>'
        '<ul><li><a href="intro.html">Introduction</a></li><li><a href="setup.html">Setup</a></li>'
        '<li><a href="usage.html">Usage</a></li></ul>'
        '<ul><li>See <a href="#a">one</a>, then read the part on rates before <a href="#b">two</a>'
        ' and <a href="#c">three</a>.</li></ul>'
        '<h2 id="pictures">3.2 How do I encode single pictures into movies?</h2>'
        "<p>Rename your pictures to follow a numerical sequence.</p></body></html>",
        encoding="utf-8",
    )
    [doc] = HtmlLoader().load(path)
    assert "3.7 Why" not in doc.text
    assert doc.text.count("encode single pictures") == 1
    assert "- Introduction\n- Setup\n- Usage" in doc.text
    assert "read the part on rates" in doc.text


def load_page(path: Path, html: str) -> Document:
    """The one document the HTML loader makes of ``html`` written to ``path``."""
    path.write_text(html, encoding="utf-8")
    [doc] = HtmlLoader().load(path)
    return doc


def test_contents_whose_links_spell_the_pages_own_file_name_are_dropped(tmp_path: Path) -> None:
    # LaTeX2HTML's "Subsections" list links into the page by its own name ("crypto.html#SEC2");
    # a list of the same shape into another page is that page's contents and stays.
    doc = load_page(
        tmp_path / "crypto.html",
        "<html><body><strong>Subsections</strong><ul>"
        '<li><a href="crypto.html#SEC1">Building with Encryption Support</a></li>'
        '<li><a href="crypto.html#SEC2">Encryption Technical Details</a></li>'
        '<li><a href="./crypto.html#SEC3">Decrypting with a Master Key</a></li></ul>'
        '<ul><li><a href="tls.html#SEC1">TLS Directives</a></li><li><a href="tls.html#SEC2">TLS'
        ' Keys</a></li><li><a href="tls.html#SEC3">TLS Examples</a></li></ul>'
        '<h1><a id="SEC2">Encryption Technical Details</a></h1>'
        "<p>The implementation uses 128bit AES-CBC.</p></body></html>",
    )
    assert doc.text.count("Encryption Technical Details") == 1, doc.text
    assert "Decrypting with a Master Key" not in doc.text
    assert "- TLS Directives\n- TLS Keys\n- TLS Examples" in doc.text


def test_a_definition_list_of_numbered_links_into_the_page_is_its_contents(tmp_path: Path) -> None:
    # DocBook's contents of a FAQ or a one-page chapter: "3.1. " outside each link; a contents list
    # of links to other pages stays.
    doc = load_page(
        tmp_path / "faq.html",
        "<html><body><dl><dt>3.1. <a href='faq.html#q1'>How can I find one package by name?</a></dt>"
        "<dt>3.2. <a href='#q2'>How can I find broken packages?</a></dt>"
        "<dt>3.3. <a href='#q3'>Why can I not select text?</a></dt></dl>"
        "<dl><dt>2. <a href='installation.html'>Installation</a></dt><dt>3. <a href='upgrade.html'>"
        "Upgrading</a></dt><dt>4. <a href='usage.html'>Usage</a></dt></dl>"
        "<h2 id='q2'>3.2. How can I find broken packages?</h2><p>Use the command "
        '<span class="guimenu">Search</span> → <span class="guimenuitem">Find Broken</span>.</p>'
        '<span class="breadcrumb"><a href="index.html">Home</a> / <a href="faq.html">FAQ</a></span>'
        "</body></html>",
    )
    assert doc.text.count("How can I find broken packages?") == 1, doc.text
    assert "Why can I not select text" not in doc.text
    assert "Installation" in doc.text and "Upgrading" in doc.text
    # A menu's name marked as one is a word of the text; a breadcrumb of links is not.
    assert "Use the command Search → Find Broken." in doc.text
    assert "Home" not in doc.text
