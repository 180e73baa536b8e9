"""TaskAnalyzer: what kind of task a prompt is, in which language, needing which capabilities.

Deterministic and explainable by default: weighted rules over keywords, code fences,
file names and stack traces. An optional model-assisted mode asks a small local model
and falls back to the rules when the model's answer is unusable.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from jarvis.providers.tokens import estimate_text_tokens

TASK_TYPES = (
    "code_generation",
    "code_review",
    "debugging",
    "refactoring",
    "testing",
    "planning",
    "analysis",
    "reasoning",
    "creative",
    "chat",
)
CODE_TASKS = frozenset({"code_generation", "code_review", "debugging", "refactoring", "testing"})
#: Above this many estimated tokens a task needs a long-context model.
LONG_CONTEXT_TOKENS = 6000


@dataclass(frozen=True)
class Analysis:
    task_type: str
    language: str | None
    capabilities: tuple[str, ...]
    est_tokens: int
    confidence: float
    #: The rules that fired, strongest first: why this task type.
    reasons: tuple[str, ...] = ()
    method: str = "rules"

    def as_json(self) -> dict[str, object]:
        return {
            "task_type": self.task_type,
            "language": self.language,
            "capabilities": list(self.capabilities),
            "est_tokens": self.est_tokens,
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "method": self.method,
        }


@dataclass(frozen=True)
class Rule:
    """Evidence for one task type: single words (matched as whole tokens) and phrases (substrings)."""

    task: str
    weight: float
    why: str
    words: frozenset[str] = frozenset()
    phrases: tuple[str, ...] = ()


def _rule(task: str, weight: float, why: str, words: str = "", phrases: tuple[str, ...] = ()) -> Rule:
    return Rule(task, weight, why, frozenset(words.split()), phrases)


# Weights are additive; the highest total wins. Words are lower-case whole tokens.
RULES: tuple[Rule, ...] = (
    _rule(
        "debugging",
        2.5,
        "words about a failure",
        "bug bugs crash crashes crashing fix fixes broken fail fails failing debug error errors exception "
        "hang hangs leak leaks regression unexpected unexpectedly segfault oom",
        (
            "doesn't work",
            "doesnt work",
            "not working",
            "isn't working",
            "isnt working",
            "what's wrong",
            "whats wrong",
            "never terminates",
            "never returns",
            "never finishes",
            "infinite loop",
            "wrong result",
            "wrong output",
            "wrong answer",
            "off by one",
            "off-by-one",
            "matches too much",
            "matches too little",
            "stack trace",
        ),
    ),
    _rule(
        "code_review",
        3.0,
        "asks for a review",
        "review reviews critique audit lgtm pr",
        ("code review", "feedback on", "any issues with", "is this code", "look over", "pull request"),
    ),
    _rule(
        "refactoring",
        3.0,
        "asks to restructure code",
        "refactor refactoring refactored simplify restructure rename decouple modernize tidy dry idiomatic",
        (
            "clean up",
            "cleanup",
            "extract a method",
            "extract a function",
            "extract a helper",
            "extract method",
            "extract function",
            "more readable",
            "reduce duplication",
            "split this",
            "into smaller",
        ),
    ),
    _rule(
        "testing",
        3.0,
        "asks for tests",
        "test tests pytest unittest jest mocha coverage hypothesis testing junit",
        ("test case", "test suite", "property-based", "property based"),
    ),
    _rule(
        "code_generation",
        2.0,
        "asks for code",
        "write implement create build generate code function class script program endpoint cli parser module "
        "regex algorithm snippet method component",
        ("sql query",),
    ),
    _rule(
        "planning",
        3.0,
        "asks for a plan",
        "plan planning roadmap milestone milestones strategy timeline phases phase prioritize prioritise",
        (
            "steps to",
            "step plan",
            "break this down",
            "break it down",
            "architecture for",
            "design the architecture",
            "design a system",
            "migration plan",
            "how should we structure",
            "how should i structure",
            "how should we organize",
            "how should i approach",
        ),
    ),
    _rule(
        "analysis",
        2.5,
        "asks for an analysis or explanation",
        "analyze analyse analysis explain compare comparison evaluate assess summarize summarise interpret "
        "breakdown tradeoffs",
        (
            "what does this",
            "what does the",
            "trade-off",
            "pros and cons",
            "difference between",
            "differences between",
            "complexity of",
            "what is the difference",
        ),
    ),
    _rule(
        "reasoning",
        3.0,
        "a problem to reason through",
        "prove proof puzzle riddle logic deduce probability calculate solve math equation",
        (
            "how many",
            "which is larger",
            "step by step",
            "step-by-step",
            "how much is",
            "how much does",
            "how far",
            "how long does it take",
            "catch up",
        ),
    ),
    _rule(
        "creative",
        3.0,
        "asks for creative writing",
        "poem story haiku lyrics song slogan tagline joke limerick fiction creative tweet essay",
        ("brainstorm names", "name ideas", "blog post"),
    ),
)


def _index(
    rules: tuple[Rule, ...],
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[tuple[int, str], ...]]]:
    """word -> rules using it; first word of a phrase -> (rule, phrase): work follows the prompt's length."""
    words: dict[str, list[int]] = {}
    phrases: dict[str, list[tuple[int, str]]] = {}
    for i, rule in enumerate(rules):
        for w in rule.words:
            words.setdefault(w, []).append(i)
        for p in rule.phrases:
            first = _WORD.findall(p)[0].strip(".'") if _WORD.findall(p) else p
            phrases.setdefault(first, []).append((i, p))
    return ({k: tuple(v) for k, v in words.items()}, {k: tuple(v) for k, v in phrases.items()})


#: Structural evidence, checked as substrings (fast C search) on the whole text.
TRACE_MARKERS = (
    "Traceback (most recent call last)",
    "Error: ",
    "Exception: ",
    "panicked at",
    "Segmentation fault",
    "NullPointerException",
    "undefined is not a function",
    ".java:",
    "Exception in thread",
)
_CHAT_OPENERS = re.compile(
    r"(hi|hello|hey|thanks|thank you|good (morning|evening|afternoon)|how are you|who are you|"
    r"what can you do|nice to meet)\b"
)

_LANG_BY_FENCE = {
    "py": "python",
    "python": "python",
    "js": "javascript",
    "javascript": "javascript",
    "ts": "typescript",
    "typescript": "typescript",
    "rs": "rust",
    "rust": "rust",
    "go": "go",
    "golang": "go",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cs": "csharp",
    "csharp": "csharp",
    "rb": "ruby",
    "ruby": "ruby",
    "php": "php",
    "sh": "bash",
    "bash": "bash",
    "shell": "bash",
    "sql": "sql",
    "kotlin": "kotlin",
    "kt": "kotlin",
    "swift": "swift",
    "scala": "scala",
    "html": "html",
    "css": "css",
    "lua": "lua",
    "r": "r",
    "haskell": "haskell",
}
_LANG_BY_EXT = {
    "py": "python",
    "js": "javascript",
    "mjs": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "rs": "rust",
    "go": "go",
    "java": "java",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "rb": "ruby",
    "php": "php",
    "sh": "bash",
    "sql": "sql",
    "kt": "kotlin",
    "swift": "swift",
    "scala": "scala",
    "lua": "lua",
    "hs": "haskell",
}
# (language, whole words, substrings) in priority order.
_LANG_WORDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = tuple(
    (lang, frozenset(words.split()), phrases)
    for lang, words, phrases in (
        ("python", "python django flask fastapi pandas numpy pytest asyncio pip hypothesis", ()),
        ("typescript", "typescript ts tsx angular deno", ()),
        ("javascript", "javascript node node.js react vue express npm jest js", ()),
        ("rust", "rust cargo tokio crate", ("borrow checker",)),
        (
            "go",
            "golang goroutine goroutines",
            ("go program", "go function", "go code", "go service", "go module", "go http", "in go "),
        ),
        ("java", "java spring maven gradle junit", ()),
        ("cpp", "cpp", ("c++", "std::")),
        ("csharp", "csharp dotnet", ("c#", ".net")),
        ("c", "malloc printf", (" in c ", "c program", "c function", "c code")),
        ("ruby", "ruby rails rspec", ()),
        ("php", "php laravel", ()),
        ("sql", "sql postgres postgresql mysql sqlite", ()),
        ("bash", "bash zsh", ("shell script",)),
        ("kotlin", "kotlin", ()),
        ("swift", "swift swiftui", ()),
    )
)
_WORD = re.compile(r"[a-z0-9_.+#']+")
_FENCE = re.compile(r"```([\w+#-]*)")
_FILE = re.compile(r"\b[\w/-]+\.(" + "|".join(_LANG_BY_EXT) + r")\b")
_CODE_SHAPES = re.compile(
    r"^[ \t]*(?:def |class |function |fn |func |public |import |#include|SELECT |const |let )", re.MULTILINE
)


def _counts(low: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in _WORD.findall(low):
        w = w.strip(".'")
        counts[w] = counts.get(w, 0) + 1
    return counts


def detect_language(text: str, low: str | None = None, counts: dict[str, int] | None = None) -> str | None:
    for tag in _FENCE.findall(text):
        if tag.lower() in _LANG_BY_FENCE:
            return _LANG_BY_FENCE[tag.lower()]
    match = _FILE.search(text)
    if match:
        return _LANG_BY_EXT[match.group(1).lower()]
    if "Traceback (most recent call last)" in text:
        return "python"
    low = text.lower() if low is None else low
    counts = _counts(low) if counts is None else counts
    for lang, words, phrases in _LANG_WORDS:
        if any(w in counts for w in words) or any(p in low for p in phrases):
            return lang
    return None


@dataclass
class TaskAnalyzer:
    """``analyze(text, context)`` → Analysis; pure, < 1 ms for a 2 KB prompt."""

    long_context_tokens: int = LONG_CONTEXT_TOKENS
    extra_rules: Sequence[Rule] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self._rules = (*RULES, *self.extra_rules)
        self._by_word, self._by_phrase = _index(self._rules)

    def analyze(self, text: str, context: Sequence[str] = ()) -> Analysis:
        # Rules look at the request itself: the instruction is the first paragraph, and it
        # counts more than pasted code or context below it.
        low = text.lower()
        head = low.strip().split("\n\n", 1)[0][:600]
        counts, head_counts = _counts(low), _counts(head)
        scores: dict[str, float] = dict.fromkeys(TASK_TYPES, 0.0)
        fired: dict[str, list[str]] = {t: [] for t in TASK_TYPES}
        rules = self._rules
        head_hits = [0] * len(rules)
        all_hits = [0] * len(rules)
        by_word, by_phrase = self._by_word, self._by_phrase
        for word, n in counts.items():
            for i in by_word.get(word, ()):
                all_hits[i] += n
                head_hits[i] += head_counts.get(word, 0)
            for i, phrase in by_phrase.get(word, ()):
                found = low.count(phrase)
                if found:
                    all_hits[i] += found
                    head_hits[i] += head.count(phrase)
        for i, rule in enumerate(rules):
            in_head, in_body = head_hits[i], all_hits[i] - head_hits[i]
            if in_head or in_body:
                scores[rule.task] += rule.weight * (min(in_head, 3) + 0.3 * min(in_body, 3))
                fired[rule.task].append(rule.why)
        if any(marker in text for marker in TRACE_MARKERS):
            scores["debugging"] += 4.5
            fired["debugging"].insert(0, "stack trace or error message")
        if _CHAT_OPENERS.match(head):
            scores["chat"] += 4.0
            fired["chat"].append("small talk")
        has_code = "```" in text or bool(_CODE_SHAPES.search(text))
        if has_code:
            # Code pasted with a question is rarely a request for new code.
            for t in ("code_review", "debugging", "refactoring", "testing", "analysis"):
                if scores[t]:
                    scores[t] += 1.5
        # A request to write tests or fix a bug also says "write"/"code": let the specific one win.
        if scores["testing"] or scores["debugging"] or scores["refactoring"]:
            scores["code_generation"] *= 0.6
        best = max(scores, key=lambda t: scores[t])
        total = sum(scores.values())
        if total == 0:
            best = "chat"
            confidence = 0.3
        else:
            ranked = sorted(scores.values(), reverse=True)
            margin = (ranked[0] - ranked[1]) / ranked[0]
            confidence = min(0.99, 0.45 + 0.5 * margin + min(ranked[0], 10) / 40)
        language = detect_language(text, low, counts) or next(
            (lang for c in context if (lang := detect_language(c))), None
        )
        est = estimate_text_tokens(text) + sum(estimate_text_tokens(c) for c in context)
        caps = []
        if best in CODE_TASKS or (language and best in ("analysis", "planning")):
            caps.append("code")
        if best == "planning":
            caps.append("planning")
        if best in ("reasoning", "debugging", "analysis", "planning"):
            caps.append("reasoning")
        if "tool call" in head or "function call" in head:
            caps.append("function_calling")
        if any(w in head_counts for w in ("image", "screenshot", "diagram", "photo")):
            caps.append("vision")
        if est > self.long_context_tokens:
            caps.append("long_context")
        return Analysis(
            task_type=best,
            language=language,
            capabilities=tuple(dict.fromkeys(caps)),
            est_tokens=est,
            confidence=confidence,
            reasons=tuple(fired[best]),
        )

    async def analyze_with_model(
        self, text: str, ask_model: Callable[[str], Awaitable[str]], context: Sequence[str] = ()
    ) -> Analysis:
        """Ask a small local model for the task type; fall back to the rules if it answers nonsense
        or fails."""
        rules = self.analyze(text, context)
        prompt = (
            "Classify the request into exactly one of: "
            + ", ".join(TASK_TYPES)
            + ".\nAnswer with the category name only.\n\nRequest:\n"
            + text[:2000]
        )
        try:
            answer = (await ask_model(prompt)).strip().lower()
        except Exception:
            return rules
        found = next((t for t in TASK_TYPES if t in answer or t.replace("_", " ") in answer), None)
        if found is None:
            return rules
        if found == rules.task_type:
            return Analysis(
                **{**rules.__dict__, "confidence": max(rules.confidence, 0.9), "method": "model+rules"}
            )
        # Disagreement: trust the model only when the rules were unsure.
        if rules.confidence < 0.6:
            return Analysis(
                **{
                    **rules.__dict__,
                    "task_type": found,
                    "confidence": 0.6,
                    "method": "model",
                    "reasons": ("the model's classification",),
                }
            )
        return rules
