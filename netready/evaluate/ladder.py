"""The bilingual verdict ladder that rules with several findings per subject climb: anything that fails makes the
outcome fail (the warnings listed after the failures), warnings alone make it warn, nothing found passes.

    found = Ladder(zone, evidence)
    found.fail("NS sets differ", "tập NS khác nhau")
    found.warn("only one name server", "chỉ có một máy chủ")
    return found.outcome(("all good", "đều tốt"), head=(f"{zone}: ", f"{zone}: "), tail=(f" ({detail})",) * 2)

A finding may name the fix hint of the rule that applies (a key of its `fix` in rules.yaml): the outcome carries
the hint of its first failure, else of its first warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netready.evaluate import Outcome

Text = tuple[str, str]  # (English, Vietnamese)
Finding = tuple[str, str, str | None]  # (English, Vietnamese, fix hint)


@dataclass
class Ladder:
    subject: str | None = None
    evidence: tuple[str, ...] = ()
    fails: list[Finding] = field(default_factory=list)
    warns: list[Finding] = field(default_factory=list)

    def fail(self, en: str, vi: str, hint: str | None = None) -> None:
        self.fails.append((en, vi, hint))

    def warn(self, en: str, vi: str, hint: str | None = None) -> None:
        self.warns.append((en, vi, hint))

    def outcome(self, passed: Text, head: Text = ("", ""), tail: Text = ("", "")) -> Outcome:
        """fail or warn with head + the problems ('; ') + tail; else pass with head + passed + tail."""
        hint = None
        if self.fails or self.warns:
            verdict, problems = ("fail", self.fails + self.warns) if self.fails else ("warn", self.warns)
            en, vi = "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems)
            hint = problems[0][2]
        else:
            verdict, (en, vi) = "pass", passed
        return Outcome(verdict, f"{head[0]}{en}{tail[0]}", f"{head[1]}{vi}{tail[1]}", self.subject, self.evidence,
                       hint=hint)
