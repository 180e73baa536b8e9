"""A check: one thing a candidate must do, where it came from, and how far it is trusted."""

from __future__ import annotations

from dataclasses import dataclass

# Where a check came from. Given and extracted checks are authoritative (they carry the user's
# intent); model-written ones only rank candidates and never pass or fail one on their own.
GIVEN, EXTRACTED, MODEL = "given", "extracted", "model"
AUTHORITATIVE = (GIVEN, EXTRACTED)
# How a check is judged: compare `expression op expected`; truth: the expression is truthy;
# call: calling it raises nothing (a test function); repr/str: repr()/str() of it equals the text.
COMPARE, TRUTH, CALL, REPR, STR = "compare", "truth", "call", "repr", "str"


@dataclass(frozen=True)
class Check:
    """One check, as source text: never evaluated in our process, only inside the sandbox.

    `setup` is code run once (per candidate) before the checks that name it: a test file's imports
    and helpers, or a doctest's earlier statements.
    """

    expression: str
    kind: str = TRUTH
    op: str | None = None
    expected: str | None = None
    source: str = EXTRACTED
    setup: str = ""
    origin: str = ""  # the line of the task or test file it came from

    @property
    def authoritative(self) -> bool:
        return self.source in AUTHORITATIVE

    @property
    def display(self) -> str:
        """What the user is shown: the check as one line of Python (or doctest) text."""
        if self.kind == COMPARE:
            return f"{self.expression} {self.op} {self.expected}"
        if self.kind == CALL:
            return f"{self.expression} passes"
        if self.kind in (REPR, STR):
            return f"{self.expression} shows {self.expected}"
        return self.expression

    def to_json(self) -> dict[str, str | None]:
        return {
            "expression": self.expression,
            "kind": self.kind,
            "op": self.op,
            "expected": self.expected,
            "source": self.source,
            "setup": self.setup,
            "origin": self.origin,
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> Check:
        return cls(
            expression=str(data["expression"]),
            kind=str(data.get("kind") or TRUTH),
            op=data.get("op"),
            expected=data.get("expected"),
            source=str(data.get("source") or EXTRACTED),
            setup=str(data.get("setup") or ""),
            origin=str(data.get("origin") or ""),
        )
