# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The continuation-token loop of the inventory query, on scripted PropertyCollector answers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.vsphere import query

Result = collections.namedtuple("Result", "objects token")


class Collector(object):
    """Answers with the given pages in order; each page but the last carries a token."""

    def __init__(self, pages, last_token=None):
        self.results = [Result(objects, "t%d" % (i + 1) if i + 1 < len(pages) else last_token)
                        for i, objects in enumerate(pages)]
        self.calls = []

    def first(self):
        self.calls.append(("retrieve",))
        return self.results[0]

    def follow(self, token):
        self.calls.append(("continue", token))
        return self.results[int(token[1:])]

    def cancel(self, token):
        self.calls.append(("cancel", token))


@pytest.mark.parametrize("pages, calls", [
    ([["a", "b", "c"]], [("retrieve",)]),
    ([["a", "b"], ["c", "d"], ["e"]], [("retrieve",), ("continue", "t1"), ("continue", "t2")]),
    ([[], ["a"]], [("retrieve",), ("continue", "t1")]),                      # an empty page with a token
    ([None], [("retrieve",)]),                                               # objects unset: no objects
])
def test_follows_tokens_to_the_end(pages, calls):
    collector = Collector(pages)
    got = list(query.iterate_pages(collector.first, collector.follow, collector.cancel))
    assert got == [page or [] for page in pages]
    assert collector.calls == calls


def test_no_result_at_all():
    assert list(query.iterate_pages(lambda: None, None, None)) == []


def test_stopping_early_cancels_the_pending_token():
    collector = Collector([["a"], ["b"], ["c"]])
    pages = query.iterate_pages(collector.first, collector.follow, collector.cancel)
    assert next(pages) == ["a"]
    pages.close()
    assert collector.calls == [("retrieve",), ("cancel", "t1")]


def test_cancel_errors_do_not_mask_the_stop():
    def cancel(token):
        raise OSError("connection reset")
    pages = query.iterate_pages(lambda: Result(["a"], "t1"), None, cancel)
    next(pages)
    pages.close()


def test_a_failing_continuation_propagates():
    def follow(token):
        raise OSError("connection reset")
    pages = query.iterate_pages(lambda: Result(["a"], "t1"), follow, None)
    assert next(pages) == ["a"]
    with pytest.raises(OSError):
        next(pages)


@pytest.mark.parametrize("size", [0, -1, "10", None])
def test_page_size_must_be_positive(size):
    with pytest.raises(ValueError):
        query.InventoryQuery(si=None, page_size=size)
