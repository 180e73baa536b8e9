"""Verified code: run model-written Python in a sandbox, extract tests from the task, rank candidates.

Headless (no Textual), asyncio-friendly, nothing done at import. Entry points:
sandbox.Sandbox (run code confined; tiers.confinement_notice for the one-time notice),
extract.extract_checks / checks_from_tests / calls_from_text / model_checks (checks and inputs from
text), harness.run_checks / run_inputs (one sandbox run per candidate), rank.rank_candidates
(CodeT-style), pick.pick_candidate (all of it for a set of candidates, with a status line and a
ledger record), suites.load_suite / run_task (JSONL task suites and HumanEval).
"""
