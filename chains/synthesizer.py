"""ResultSynthesizer: turns a chain's steps into the final answer, its code blocks and the review verdict."""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field

_BLOCK = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_FILE_HINT = re.compile(r"^\s*(?:#|//|--)\s*(?:file(?:name)?:)?\s*([\w./-]+\.\w{1,5})\s*$", re.IGNORECASE)
_NAME = re.compile(r"^\s*(?:async\s+)?(?:def|class|fn|func|function)\s+([A-Za-z_]\w*)", re.MULTILINE)
_EXT = {
    "python": "py",
    "py": "py",
    "javascript": "js",
    "js": "js",
    "typescript": "ts",
    "ts": "ts",
    "rust": "rs",
    "go": "go",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "csharp": "cs",
    "ruby": "rb",
    "bash": "sh",
    "sh": "sh",
    "sql": "sql",
    "kotlin": "kt",
    "swift": "swift",
    "php": "php",
    "html": "html",
    "css": "css",
}
_CANON = {"py": "python", "js": "javascript", "ts": "typescript", "sh": "bash", "c++": "cpp", "rs": "rust"}


@dataclass
class CodeBlock:
    language: str | None
    code: str
    filename: str
    #: For Python: None when it parses, else the SyntaxError as a sentence.
    syntax_error: str | None = None


@dataclass
class Verdict:
    decision: str  # approve | revise | unclear
    issues: list[str] = field(default_factory=list)


@dataclass
class SynthesizedResult:
    answer: str
    code_blocks: list[CodeBlock]
    verdict: Verdict | None
    summary_markdown: str

    def as_json(self) -> dict:
        return asdict(self)

    @property
    def syntax_errors(self) -> list[str]:
        return [b.syntax_error for b in self.code_blocks if b.syntax_error]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def extract_code_blocks(text: str, default_language: str | None = None) -> list[CodeBlock]:
    blocks = []
    for i, (tag, code) in enumerate(_BLOCK.findall(text)):
        lang = _CANON.get(tag.lower(), tag.lower()) or default_language
        code = code.rstrip()
        if not code.strip():
            continue
        first = code.splitlines()[0] if code else ""
        hint = _FILE_HINT.match(first)
        if hint:
            filename = hint.group(1)
        else:
            named = _NAME.search(code)
            stem = _snake(named.group(1)) if named else ("main" if i == 0 else f"snippet_{i + 1}")
            filename = f"{stem}.{_EXT.get(lang or '', 'txt')}"
        error = None
        if lang == "python":
            try:
                ast.parse(code)
            except SyntaxError as err:
                error = f"{filename} line {err.lineno}: {err.msg}"
        blocks.append(CodeBlock(lang, code, filename, error))
    return blocks


def parse_verdict(text: str) -> Verdict:
    """'VERDICT: APPROVE|REVISE' then '- issue' lines; small models stray, so read generously."""
    head = text.strip()[:400].upper()
    issues = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith(("- ", "* "))]
    explicit = re.search(r"VERDICT\W*(APPROVE|REVISE)", head)
    if explicit:
        return Verdict(explicit.group(1).lower(), issues)
    if re.search(r"\bREVISE\b|\bREJECT|\bNOT CORRECT\b|\bINCORRECT\b", head):
        return Verdict("revise", issues)
    if re.search(r"\bAPPROVE|\bLGTM\b|LOOKS GOOD|\bCORRECT\b", head):
        return Verdict("approve", issues)
    return Verdict("unclear", issues)


class ResultSynthesizer:
    def synthesize(
        self, outputs: dict[str, str], final_role: str, review: str | None, language: str | None
    ) -> SynthesizedResult:
        """``outputs``: each role's latest output; ``final_role``: whose output is the answer."""
        answer = outputs.get(final_role, "")
        blocks = extract_code_blocks(answer, language)
        verdict = parse_verdict(review) if review is not None else None
        lines = ["## Answer", "", answer.strip() or "_(empty)_"]
        if blocks:
            lines += ["", "## Files", ""] + [
                f"- `{b.filename}` ({b.language or 'text'}, {len(b.code.splitlines())} lines)"
                + (f" — syntax error: {b.syntax_error}" if b.syntax_error else "")
                for b in blocks
            ]
        if verdict is not None:
            lines += ["", f"## Review: {verdict.decision}"] + [f"- {i}" for i in verdict.issues]
        return SynthesizedResult(answer, blocks, verdict, "\n".join(lines))
