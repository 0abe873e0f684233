"""VN-NAMING: the portal name against Decree 42/2022 Art. 13 (needs no probe).

The rule is information-level: a name of the form passes, any other name is reported as info,
never as a failure (many portals predate the decree, and only ministry/province portals are bound).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from netready.evaluate import Outcome, evaluator
from netready.model import Observation, Target

if TYPE_CHECKING:
    from netready.profiles import Profile

PATTERN = re.compile(r"^(dichvucong|e-services)\.([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.gov\.vn$")


@evaluator("VN-NAMING")
def naming(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    name = target.ascii_name.lower().rstrip(".")
    m = PATTERN.match(name)
    if m:
        return [
            Outcome(
                "pass",
                f"{name} follows the Decree 42/2022 Art. 13 pattern {m.group(1)}.<name>.gov.vn (<name> = {m.group(2)})",
                f"{name} theo đúng mẫu {m.group(1)}.<tên>.gov.vn của Điều 13 Nghị định 42/2022 (<tên> = {m.group(2)})",
                subject=name,
            )
        ]
    if not name.endswith(".gov.vn"):
        where_en, where_vi = "is not under .gov.vn", "không thuộc .gov.vn"
    else:
        where_en = "is under .gov.vn but not of the form dichvucong.<name>.gov.vn or e-services.<name>.gov.vn"
        where_vi = "thuộc .gov.vn nhưng không có dạng dichvucong.<tên>.gov.vn hoặc e-services.<tên>.gov.vn"
    return [
        Outcome(
            "info",
            f"{name} {where_en} (Decree 42/2022 Art. 13 names ministry/province service portals that way)",
            f"{name} {where_vi} (Điều 13 Nghị định 42/2022 quy định cách đặt tên cổng dịch vụ công của bộ, tỉnh)",
            subject=name,
        )
    ]
