"""Rule metadata in one place (issue #16): a rule's category, the area command that judges it and the remediation
action that fixes it are read from data/rules.yaml through netready.rules, nowhere else."""

from __future__ import annotations

import pytest
import yaml

from netready import remediate as R
from netready import resources, rules
from netready.model import Finding, Report

NEW_RULE = """
  - id: BP-TEST-NEW
    level: required
    category: dnssec
    area: dnssec
    action: dnssec
    source: "test"
    title: {en: A new rule, vi: Quy tắc mới}
    passes_when: {en: always, vi: luôn luôn}
    remediation: playbooks/dnssec_sign.yml
"""


@pytest.fixture
def catalogue_text(monkeypatch):
    """Serve data/rules.yaml with extra text appended; the catalogue is read again, and again after the test."""
    original = resources.read_text("data", "rules.yaml")

    def serve(extra: str) -> None:
        monkeypatch.setattr(rules.resources, "read_text",
                            lambda *parts: original + extra if parts == ("data", "rules.yaml") else "")
        rules.catalogue.cache_clear()

    yield serve
    rules.catalogue.cache_clear()


def _raw_rules() -> list[dict]:
    return yaml.safe_load(resources.read_text("data", "rules.yaml"))["rules"]


def test_every_rule_names_its_area_and_remediation_action_in_the_catalogue():
    for raw in _raw_rules():
        assert raw.get("area") in rules.AREAS, raw["id"]
        assert "action" in raw and raw["action"] in (*rules.ACTIONS, None), raw["id"]


def test_each_rule_is_judged_by_exactly_one_area_command():
    every = [r for area in rules.AREAS for r in rules.of_area(area)]
    assert sorted(every) == sorted(rules.catalogue())
    # the area is not always the category's: CAA is looked up by the DNSSEC probe, naming is shown with IPv6
    assert "BP-CAA" in rules.of_area("dnssec") and rules.catalogue()["BP-CAA"].category == "https"
    assert "VN-NAMING" in rules.of_area("ipv6")


def test_a_remediation_run_answers_only_for_the_required_rules_its_playbook_fixes():
    assert rules.gated_by("dnssec") == ("VN-DNSSEC",)
    assert rules.gated_by("dual-stack") == ("VN-IPV6-WEB",)  # not VN-IPV6-DNS: no playbook adds a name server
    assert set(rules.gated_by("all")) == {r for a in rules.ACTIONS for r in rules.gated_by(a)}
    assert "BP-TLS13" not in rules.gated_by("tls")  # recommended


def test_a_rule_added_to_the_catalogue_is_enough_for_area_and_action_lookups(catalogue_text):
    catalogue_text(NEW_RULE)
    assert rules.of_area("dnssec")[-1] == "BP-TEST-NEW"
    assert "BP-TEST-NEW" in rules.gated_by("dnssec") and "BP-TEST-NEW" in rules.gated_by("all")
    assert "BP-TEST-NEW" not in rules.gated_by("tls") + rules.of_area("tls")
    # the remediation exit code looks at it without a list of its own
    report = Report(tool_version="t", started="s", finished="f", profile="lab",
                    findings=[Finding("BP-TEST-NEW", "dichvucong.x.gov.vn", "fail", "required", {"en": "x"})])
    result = R.RemediationResult(action="dnssec", playbook="p", inventory="i", check=True, limit=None,
                                 status="successful", rc=0, before=report, verdicts=R.compare(report, None))
    assert [v.rule_id for v in result.still_failing()] == ["BP-TEST-NEW"]
    assert result.exit_code() == R.EXIT_STILL_FAILING


def test_a_rule_without_an_area_takes_its_categorys(catalogue_text):
    catalogue_text(NEW_RULE.replace("    area: dnssec\n", "").replace("category: dnssec", "category: https"))
    assert rules.catalogue()["BP-TEST-NEW"].area == "tls"


@pytest.mark.parametrize("line, word", [("area: dnssec", "area: dns"), ("action: dnssec", "action: firewall"),
                                        ("category: dnssec", "category: mail")])
def test_an_unknown_area_action_or_category_is_a_clear_catalogue_error(catalogue_text, line, word):
    catalogue_text(NEW_RULE.replace(line, word))
    with pytest.raises(rules.CatalogueError, match=f"BP-TEST-NEW: unknown {word.split(':')[0]}"):
        rules.catalogue()


def test_no_rule_names_a_key_twice():
    """YAML keeps the last of two equal keys silently: a merge that adds a field twice must be seen."""

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader: Strict, node: yaml.MappingNode) -> dict:
        keys = [loader.construct_object(k) for k, _ in node.value]
        assert len(keys) == len(set(keys)), f"line {node.start_mark.line + 1}: a key twice in {keys}"
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load(resources.read_text("data", "rules.yaml"), Loader=Strict)
