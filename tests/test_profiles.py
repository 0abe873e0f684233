"""Profiles: built-ins, user YAML overrides, and clear errors for malformed files."""

from __future__ import annotations

import pytest

from netready.profiles import ProfileError, load_profile
from netready.rules import catalogue


def test_builtin_profiles():
    c32 = load_profile("circular32")
    assert c32.level("VN-DNSSEC") == "required" and c32.level("BP-HSTS") == "recommended"
    assert c32.threshold("rsa_min_bits") == 2048 and not c32.lab
    strict = load_profile("strict")
    assert all(strict.level(r) != "recommended" for r in catalogue())
    assert load_profile("lab").lab is True
    assert set(c32.levels) == set(catalogue())


def test_user_profile_overrides_levels_and_thresholds(tmp_path):
    p = tmp_path / "agency.yaml"
    p.write_text("name: agency\nextends: circular32\nlevels:\n  BP-HSTS: required\n"
                 "thresholds:\n  rsa_min_bits: 3072\n  hsts_min_age: 63072000\n", encoding="utf-8")
    prof = load_profile(str(p))
    assert prof.name == "agency"
    assert prof.level("BP-HSTS") == "required" and prof.level("BP-TLS13") == "recommended"
    assert prof.threshold("rsa_min_bits") == 3072 and prof.threshold("hsts_min_age") == 63072000
    assert prof.threshold("sig_min_days_left") == 3  # inherited


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("levels:\n  NO-SUCH-RULE: required\n", "unknown rule id 'NO-SUCH-RULE'"),
        ("levels:\n  VN-DNSSEC: mandatory\n", "level 'mandatory' is not one of"),
        ("thresholds:\n  rsa_min_bits: lots\n", "is not a non-negative number"),
        ("extends: circular32\nthresholds:\n  rsa_bits: 3072\n", "unknown name 'rsa_bits'"),
        ("colour: blue\n", "unknown key(s) ['colour']"),
        ("- a\n- b\n", "must be a mapping"),
        ("levels: [oops\n", "not valid YAML"),
    ],
)
def test_malformed_profiles_say_what_is_wrong(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(str(p))
    assert message in str(info.value)


def test_missing_profile_and_extends_loop(tmp_path):
    with pytest.raises(ProfileError, match="not a built-in profile"):
        load_profile("nope")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"extends: {b}\n", encoding="utf-8")
    b.write_text(f"extends: {a}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="loop"):
        load_profile(str(a))
