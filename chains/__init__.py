"""Chains layer: the orchestration engine (analysis, selection, chains, fallbacks, ledger, scores).

Never imports Textual."""
