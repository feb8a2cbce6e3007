"""The feeds file: YAML or OPML, detected by content; errors name the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.feeds import load_feeds
from ingest.types import FeedSpec
from newsflow.core.errors import FeedsFileError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_feeds_with_optional_fields_relative_paths_and_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds.yaml", """\
feeds:
  - url: https://example.com/world.xml
    name: Example World
    language: en
    tags: [world, politics]
    poll_interval: 15m
  - local/feed.xml
  - file:///srv/feeds/a.xml
  - url: https://example.com/world.xml
    name: listed twice
""")
    assert load_feeds(path) == [
        FeedSpec(url="https://example.com/world.xml", name="Example World", language="en",
                 tags=("world", "politics"), poll_interval=900.0),
        FeedSpec(url=str(tmp_path / "local" / "feed.xml")),
        FeedSpec(url="file:///srv/feeds/a.xml"),
    ]


def test_opml_is_detected_by_content_whatever_the_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "subscriptions.txt", """\
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="BBC" title="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
      <outline text="Local" xmlUrl="feeds/local.xml" category="/town,weather"/>
    </outline>
    <outline text="a folder without feeds"/>
  </body>
</opml>
""")
    assert load_feeds(path) == [
        FeedSpec(url="https://feeds.bbci.co.uk/news/rss.xml", name="BBC News", tags=("News",)),
        FeedSpec(url=str(tmp_path / "feeds" / "local.xml"), name="Local", tags=("News", "town", "weather")),
    ]


@pytest.mark.parametrize(("name", "text", "line", "problem"), [
    ("a.yaml", "feeds:\n  - url: https://e.com/a\n  - url: [unclosed\n", 4, "invalid YAML"),
    ("b.yaml", "feeds:\n  - url: https://e.com/a\n    nmae: typo\n", 3, "unknown key 'nmae'"),
    ("c.yaml", "feeds:\n  - name: no url\n", 2, "feed without 'url'"),
    ("d.yaml", "feeds:\n  - url: ftp://e.com/a\n", 2, "unsupported URL scheme 'ftp'"),
    ("e.yaml", "feeds:\n  - url: https://e.com/a\n    poll_interval: soon\n", 3, "not a duration"),
    ("f.yaml", "sources:\n  - https://e.com/a\n", 1, "no 'feeds:' key"),
    ("g.yaml", "feeds: https://e.com/a\n", 1, "must be a list"),
    ("h.opml", '<opml version="2.0"><body>\n<outline xmlUrl="https://e.com/a">\n</body></opml>\n', 3,
     "invalid OPML: mismatched tag"),
    ("i.opml", '<opml><body>\n\n<outline text="x" xmlUrl="javascript:alert(1)"/></body></opml>', 3,
     "unsupported URL scheme 'javascript'"),
    ("j.xml", '<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY x "xx">\n]><opml/>', 3,
     "entity declarations are not allowed"),
])
def test_invalid_files_name_the_line_and_the_problem(tmp_path: Path, name: str, text: str, line: int,
                                                      problem: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(FeedsFileError) as caught:
        load_feeds(path)
    assert caught.value.line == line
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}, line {line}: ")


def test_a_missing_or_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FeedsFileError, match="cannot read the feeds file"):
        load_feeds(tmp_path / "nope.yaml")
    with pytest.raises(FeedsFileError, match="empty"):
        load_feeds(write(tmp_path, "empty.yaml", ""))


def test_credentials_in_a_feed_url_are_moved_out_of_it_into_the_specs_auth(tmp_path: Path) -> None:
    from ingest.types import FeedAuth

    path = write(tmp_path, "feeds.yaml", """\
feeds:
  - url: https://reader:s%40cret@example.com:8443/world.xml
  - HTTPS://bare:pw@example.com/bare.xml
""")
    world, bare = load_feeds(path)
    assert world.url == "https://example.com:8443/world.xml"
    assert world.auth == FeedAuth(username="reader", password="s@cret")
    assert "s@cret" not in repr(world) and "cret" not in repr(world)
    assert bare.url == "https://example.com/bare.xml" and bare.auth == FeedAuth("bare", "pw")
    opml = write(tmp_path, "feeds.opml", '<opml version="2.0"><body>'
                 '<outline text="A" xmlUrl="http://u:p@example.com/a.xml"/></body></opml>')
    [a] = load_feeds(opml)
    assert a.url == "http://example.com/a.xml" and a.auth == FeedAuth("u", "p")


def test_auth_and_headers_are_given_by_reference_to_environment_variables(tmp_path: Path) -> None:
    from ingest.types import FeedAuth, FeedHeader

    path = write(tmp_path, "feeds.yaml", """\
feeds:
  - url: https://example.com/world.xml
    auth: {username: reader, password_env: WORLD_PASSWORD}
    headers:
      X-Api-Key: {env: WORLD_KEY}
""")
    [spec] = load_feeds(path)
    assert spec.auth == FeedAuth(username="reader", password_env="WORLD_PASSWORD")
    assert spec.headers == (FeedHeader(name="X-Api-Key", env="WORLD_KEY"),)


@pytest.mark.parametrize(("entry", "problem"), [
    ("auth: {username: r, password: hunter2}", "not written in the feeds file"),
    ("auth: {username: r}", "needs both"),
    ("auth: {username: r, password_env: 'not a name'}", "environment variable"),
    ("headers: {X-Api-Key: literal-token}", "by reference"),
    ("headers: {Host: {env: H}}", "set by newsflow itself"),
    ("headers: {'bad name': {env: H}}", "not a valid header name"),
])
def test_secrets_written_in_the_feeds_file_or_bad_references_are_refused(
        tmp_path: Path, entry: str, problem: str) -> None:
    path = write(tmp_path, "feeds.yaml", f"feeds:\n  - url: https://example.com/a.xml\n    {entry}\n")
    with pytest.raises(FeedsFileError) as caught:
        load_feeds(path)
    assert problem in str(caught.value) and caught.value.line == 3
    assert "hunter2" not in str(caught.value)


def test_credentials_in_the_url_and_in_auth_together_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds.yaml", "feeds:\n  - url: https://u:p@example.com/a.xml\n"
                                         "    auth: {username: r, password_env: P}\n")
    with pytest.raises(FeedsFileError, match="both in the URL and in 'auth:'"):
        load_feeds(path)


def test_an_upper_case_http_scheme_is_a_url_not_a_local_path(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds.yaml", "feeds:\n  - HTTP://Example.com/a.xml\n  - FILE:///srv/a.xml\n")
    assert [s.url for s in load_feeds(path)] == ["http://Example.com/a.xml", "file:///srv/a.xml"]
