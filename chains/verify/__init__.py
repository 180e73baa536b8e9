"""Verified code: run model-written Python in a sandbox, extract tests from the task, rank candidates.

Headless (no Textual), asyncio-friendly, nothing done at import. Entry points:
sandbox.Sandbox (run code confined), extract.extract_checks (tests from the task text),
harness (scripts that run a candidate against checks or inputs), rank.rank_candidates (CodeT-style),
suites (JSONL task suites and HumanEval).
"""
