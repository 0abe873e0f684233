"""Views in one room (issue #16): every area command's text view is found through netready.views, drawn from
saved observations alone."""

from __future__ import annotations

import importlib

import pytest

from netready import rules, views


def test_every_area_command_has_its_views_in_the_table():
    assert set(views.AREA_VIEWS) == set(rules.AREAS)
    for module, function in (v for area in rules.AREAS for v in views.AREA_VIEWS[area]):
        assert callable(getattr(importlib.import_module(module), function)), (module, function)


@pytest.mark.parametrize("area", rules.AREAS)
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_view_of_nothing_observed_is_text_not_an_exception(area, lang):
    assert isinstance(views.area_text(area, [], lang), str)


def test_an_area_draws_each_of_its_views_a_blank_line_apart(monkeypatch):
    monkeypatch.setitem(views.AREA_VIEWS, "ipv6", (("netready.views.ipv6", "render_ipv6_text"),) * 2)
    one = views.area_text("ipv6", [], "en")
    monkeypatch.setitem(views.AREA_VIEWS, "ipv6", (("netready.views.ipv6", "render_ipv6_text"),))
    assert one == views.area_text("ipv6", [], "en") + "\n" + views.area_text("ipv6", [], "en")
