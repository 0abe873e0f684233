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


def test_the_tls_view_judges_the_mozilla_profile_from_saved_observations():
    """The Mozilla "intermediate" comparison is the judge's (netready/evaluate/tls.py), not the probe's: the view
    draws it from the measurements alone, and says what the probe used to write into a report (schema 1)."""
    import json
    from pathlib import Path

    from netready.evaluate.tls import mozilla_intermediate
    from netready.model import Observation

    saved = json.loads((Path(__file__).parent / "data" / "report-schema1.json").read_text())
    tls = [o for o in saved["observations"] if o["probe"] == "tls" and "mozilla_intermediate" in o["data"]]
    assert tls
    for raw in tls:
        written = raw["data"].pop("mozilla_intermediate")
        assert mozilla_intermediate(raw["data"]) == written
        obs = Observation(**raw)
        text = views.area_text("tls", [obs], "en")
        verdict = "compliant" if written["compliant"] else "deviations: " + "; ".join(written["deviations"])
        assert f"   Mozilla intermediate: {verdict}\n" in text


def test_every_view_lives_in_the_views_room():
    assert {module.split(".")[1] for area in views.AREA_VIEWS.values() for module, _ in area} == {"views"}
