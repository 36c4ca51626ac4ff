"""Paged listing with read-ahead (`kube.listing.list_pages`): the next page is requested from
the token at the head of this one's body, and a head that lies is never trusted over the body.

The server here is a function serving bodies by continue token (the transport's place), so a
body can be made to say one thing in its head and another once retried."""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import pytest
from kubernetes import client

from adoption.kube import listing
from adoption.kube.listing import ListOptions, ListStats, Resource, list_items, peek_continue


def _body(names: list[str], token: str = "", head: bytes | None = None) -> bytes:
    meta = {"resourceVersion": "7", **({"continue": token} if token else {})}
    items = [{"metadata": {"name": n, "namespace": "shop"}} for n in names]
    body = msgspec.json.encode({"kind": "PodList", "metadata": meta, "items": items})
    return body if head is None else head + body[body.index(b'"items":') :]


class _Response:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def release_conn(self) -> None:
        pass


class Server:
    """Bodies by continue token; each request recorded. A body may be a list: one per attempt."""

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def fetch(self, api: client.ApiClient) -> Any:
        def page(**kw: Any) -> _Response:
            token = kw.get("_continue", "")
            with self.lock:
                self.requests.append(token)
                body = self.pages[token]
                if isinstance(body, list):
                    body = body.pop(0) if len(body) > 1 else body[0]
            if isinstance(body, Exception):
                raise body
            return _Response(body)

        return page


def _list(server: Server) -> tuple[list[str], ListStats]:
    stats = ListStats()
    opts = ListOptions(page_size=2, sleep=lambda s: None)
    items = list_items(client.ApiClient(), Resource("pods", server.fetch), opts, stats)
    return [i["metadata"]["name"] for i in items], stats


def test_the_token_is_read_off_the_head_of_a_body() -> None:
    assert peek_continue(_body(["a"], "t1")) == "t1"
    assert peek_continue(_body(["a"])) == ""  # the last page
    assert peek_continue(b'{"items":[],"metadata":{"continue":"late"}}') is None
    assert peek_continue(b'{"metadata":{"continue":') is None  # no items: cannot tell
    assert peek_continue(b'{"metadata":{"continue":5},"items":[]}') is None  # not a token
    assert peek_continue(b"<html>not json</html>") is None


def test_each_page_is_requested_once_and_ahead() -> None:
    server = Server(
        {
            "": _body(["a", "b"], "t1"),
            "t1": _body(["c", "d"], "t2"),
            "t2": _body(["e"]),
        }
    )
    names, stats = _list(server)
    assert names == ["a", "b", "c", "d", "e"]
    assert sorted(server.requests) == ["", "t1", "t2"]
    assert stats.requests == 3 and stats.objects == 5


def test_a_head_that_lies_is_not_followed() -> None:
    """The first body says "wrong" at its head but its items are malformed; the retry says
    "t1". The page requested from the lying head is dropped, never yielded."""
    bad = _body(["a", "b"], "wrong")[:-3]  # truncated: not JSON
    server = Server(
        {
            "": [bad, _body(["a", "b"], "t1")],
            "wrong": _body(["x", "y"]),
            "t1": _body(["c"]),
        }
    )
    names, stats = _list(server)
    assert names == ["a", "b", "c"]
    assert stats.retries == 1


def test_a_head_without_the_token_falls_back_to_the_whole_body() -> None:
    odd_head = (
        b'{"kind":"PodList","extra":"' + b"x" * (70 * 1024) + b'","metadata":{"continue":"t1"},'
    )
    server = Server({"": _body(["a"], "t1", head=odd_head), "t1": _body(["b"])})
    assert _list(server)[0] == ["a", "b"]


def test_no_read_ahead_gives_the_same_list(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {"": _body(["a", "b"], "t1"), "t1": _body(["c", "d"], "t2"), "t2": _body(["e"])}
    monkeypatch.setattr(listing, "READ_AHEAD", 0)
    assert _list(Server(dict(pages)))[0] == ["a", "b", "c", "d", "e"]


def test_an_error_on_a_page_read_ahead_surfaces_when_that_page_is_reached() -> None:
    server = Server(
        {
            "": _body(["a", "b"], "t1"),
            "t1": client.exceptions.ApiException(status=403, reason="Forbidden"),
        }
    )
    with pytest.raises(listing.KubeForbidden):
        _list(server)
