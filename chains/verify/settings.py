"""How a verified run samples, checks and repairs: the `[verify]` table of a chain, or `verify = true`.

Each piece can be switched off on its own, so a benchmark can measure what each one adds by running
chain variants (examples from the task, agreement on model-proposed inputs, repair rounds).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VerifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: False keeps the settings but runs the chain unverified (`jarvis run --verify` still turns it on).
    enabled: bool = True
    #: Candidates sampled when the first (greedy) one does not pass every check: 1 greedy + the rest.
    #: Six, not four: on the HumanEval benchmark a sample won 23 times in 193 verifications and a
    #: repair never did, so the calls go to samples first (README "Verified code on HumanEval").
    candidates: int = Field(default=6, ge=1, le=8)
    #: Samples that may confirm a candidate which passes every check, compared with it on
    #: model-proposed inputs (a task's few examples rarely pin its behaviour down); sampling stops as
    #: soon as no other behaviour can outnumber the passer's. A greedy passer gets at most
    #: `candidates - 1` of them, a sampled one all of them beyond the candidates (on the HumanEval
    #: subset the first sample to pass the examples was wrong in 4 of 5 tasks). 0 or 1 trusts the first
    #: pass: a rival behaviour needs two samples to outnumber it (a tie keeps the passer).
    confirm: int = Field(default=3, ge=0, le=7)
    #: Temperature of the candidates after the greedy one (each with its own seed).
    temperature: float = Field(default=0.8, ge=0, le=2)
    #: Repair rounds when no candidate passes every check (each repairs the best one or two).
    repair_rounds: int = Field(default=1, ge=0, le=2)
    #: Candidates repaired per round.
    repair_width: int = Field(default=2, ge=1, le=2)
    #: More samples when, after the repairs, still no candidate passes every check: the answer is known
    #: to be wrong then, so further calls are worth their cost; sampling stops at the first that passes
    #: (which is then confirmed like any other). On the full HumanEval run 15 answers ended that way
    #: and 12 of them were wrong; retries made 3 of those right and none of the others wrong
    #: (README "Verified code on HumanEval"). 0 stops after the repairs.
    retries: int = Field(default=6, ge=0, le=12)
    #: Model calls the verification may make in all (candidates, inputs, repairs, retries, confirming).
    max_model_calls: int = Field(default=18, ge=1, le=50)
    #: Seconds of sandboxed execution in all, over every candidate.
    exec_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Seconds each check (or proposed input) may run.
    per_check_seconds: float = Field(default=5.0, gt=0, le=120)
    #: Call expressions the model is asked for when candidates are ranked by agreement.
    inputs: int = Field(default=6, ge=1, le=20)
    #: Inputs added to the model's for agreement by changing the examples' arguments one at a time
    #: (empty, one element, odd, negative, doubled spaces, …): where samples differ, they reach it.
    mutations: int = Field(default=8, ge=0, le=20)
    #: Switches: checks extracted from the task's examples, agreement on proposed inputs, repairs.
    examples: bool = True
    agreement: bool = True
    repair: bool = True

    def with_overrides(self, overrides: dict[str, Any]) -> VerifySettings:
        """These settings with a caller's overrides (RunOptions.verify_settings), validated again."""
        return VerifySettings.model_validate({**self.model_dump(), **overrides}) if overrides else self


def coerce_verify(value: Any) -> Any:
    """`verify = true` means the default settings, `verify = false` none; a table is the settings."""
    if value is True:
        return {}
    if value is False:
        return None
    return value
