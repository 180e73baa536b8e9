"""Tests from the task text and from test code the user gives, as checks the user can be shown.

Found in the task: doctest lines (`>>> f(2)` and the line after), comparisons (`f(2) == 4`,
`is_prime(7) is True`), "f([1,2]) returns 3" / "should return" / "gives" / "->", and `assert`
lines. A pytest snippet or test file gives its top-level asserts and its `test_*` functions.
Everything is parsed with `ast` and kept as source text: nothing is evaluated here.

    extract_checks("write is_prime(n); is_prime(7) is True, is_prime(1) is False")
    → [is_prime(7) is True, is_prime(1) is False]
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import replace

from .checks import CALL, COMPARE, EXTRACTED, GIVEN, MODEL, REPR, STR, TRUTH, Check

_CALL_START = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")
# A bare "=" only before True / False / None: "tri(1) = 3" and "tri(n) = 1 + n / 2" define a
# sequence (HumanEval/130: tri(1) is not what the function returns), while
# 'simplify("1/5", "5/1") = True' is an example; a wrong authoritative check costs more than a
# missed one.
_RETURNS = re.compile(
    r"\s*(?:,\s*)?(?:#\s*)?(?:should\s+return|must\s+return|will\s+return|returns?|should\s+give|gives?|"
    r"should\s+be|must\s+be|evaluates\s+to|yields|outputs?|==>|=>|->|→|➞|⇒|==|=(?!=))\s*:?\s*",
    re.I,
)
_FENCE = re.compile(r"```[ \t]*(?:python|py|pycon|python3)?[ \t]*\n(.*?)```", re.S | re.I)
_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_SINGLETONS = ("True", "False", "None")
_BUILTINS = frozenset(dir(builtins))


def _parse_expr(text: str) -> ast.expr | None:
    text = text.strip()
    if not text or "\n" in text:
        return None
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None


def _compare_check(node: ast.expr, text: str, source: str, origin: str, setup: str = "") -> Check | None:
    """A check from a parsed comparison `call op value` (or a bare truthy expression)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _OPS:
        op = _OPS[type(node.ops[0])]
        left = ast.get_source_segment(text, node.left) or ast.unparse(node.left)
        right = ast.get_source_segment(text, node.comparators[0]) or ast.unparse(node.comparators[0])
        # In prose, "f(2) is 4" means equals: `is` only for True, False and None.
        if op in ("is", "is not") and right.strip() not in _SINGLETONS:
            op = "==" if op == "is" else "!="
        return Check(
            expression=left.strip(),
            kind=COMPARE,
            op=op,
            expected=right.strip(),
            source=source,
            origin=origin,
            setup=setup,
        )
    return Check(
        expression=(ast.get_source_segment(text, node) or ast.unparse(node)).strip(),
        kind=TRUTH,
        source=source,
        origin=origin,
        setup=setup,
    )


_BREAK = re.compile(r"[,;]|\.(?=\s|$)|\s+(?:and|but|or|then|while|whereas)\s")


def _ends(text: str, start: int) -> list[int]:
    """Where an expression starting at `start` may end on its line, longest first."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    ends = {line_end} | {m.start() for m in _BREAK.finditer(text, start + 1, line_end)}
    # A span ending in a full stop ends a sentence: "f(0) is 0." means 0, not the float 0.
    return sorted((e for e in ends if not text[start:e].rstrip().endswith(".")), reverse=True)


def _self_contained(node: ast.AST) -> bool:
    """No free names but called functions and builtins: `f([1, 2]) == 3`, not `f(x) == x`."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return all(id(n) in called or n.id in _BUILTINS for n in ast.walk(node) if isinstance(n, ast.Name))


def _call_end(text: str, start: int) -> int | None:
    """The end of the call expression beginning at `start` (matching its parentheses), or None."""
    depth = 0
    for i in range(text.index("(", start), len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                node = _parse_expr(text[start : i + 1])
                return i + 1 if isinstance(node, ast.Call) else None
        elif text[i] == "\n":
            return None
    return None


def _prose_checks(text: str, names: set[str] | None) -> list[Check]:
    """Comparisons and "returns" phrases written in running text."""
    found: list[Check] = []
    pos = 0
    while match := _CALL_START.search(text, pos):
        start = match.start()
        pos = match.end()
        if names is not None and match.group(1) not in names:
            continue
        if re.search(r"\bdef\s+$", text[max(0, start - 8) : start]):
            continue  # a signature, not a call
        line = text[text.rfind("\n", 0, start) + 1 :].split("\n", 1)[0].strip()
        check, end = _comparison_at(text, start, line)
        if check is None:
            check, end = _returns_at(text, start, line)
        if check is not None:
            found.append(check)
            pos = end
    return found


def _comparison_at(text: str, start: int, line: str) -> tuple[Check | None, int]:
    for end in _ends(text, start):
        node = _parse_expr(text[start:end])
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) and _self_contained(node):
            return _compare_check(node, text[start:end].strip(), EXTRACTED, line), end
    return None, start


def _returns_at(text: str, start: int, line: str) -> tuple[Check | None, int]:
    call_end = _call_end(text, start)
    if call_end is None:
        return None, start
    verb = _RETURNS.match(text, call_end)
    if verb is None:
        return None, start
    value_start = verb.end()
    bare = verb.group(0).strip().rstrip(":").strip() == "="
    for end in _ends(text, value_start):
        value = text[value_start:end].strip()
        value = _JSON_WORDS.get(value.lower(), value)  # "=> true", as such examples are often written
        if bare and value not in _SINGLETONS:
            continue
        value_node = _parse_expr(value)
        call_node = _parse_expr(text[start:call_end])
        if (
            value_node is not None
            and call_node is not None
            and _self_contained(value_node)
            and _self_contained(call_node)
        ):
            call = text[start:call_end].strip()
            op = "is" if value in _SINGLETONS else "=="
            return Check(
                expression=call, kind=COMPARE, op=op, expected=value, source=EXTRACTED, origin=line
            ), end
    return None, start


def _doctest_checks(text: str) -> list[Check]:
    """`>>> expr` with its expected output on the following lines; earlier statements are setup."""
    checks: list[Check] = []
    lines = text.splitlines()
    setup: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            if not stripped:
                setup = []  # a blank line ends a doctest block
            i += 1
            continue
        source = stripped[3:].strip()
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source += "\n" + lines[i].strip()[3:].lstrip()
            i += 1
        expected: list[str] = []
        # The output is one line, or more while its brackets are open: a task's prose may follow it
        # directly, where a docstring would leave a blank line.
        while (
            i < len(lines)
            and lines[i].strip()
            and not lines[i].strip().startswith((">>>", '"""', "'''"))
            and (not expected or _open_brackets("\n".join(expected)) > 0)
        ):
            expected.append(lines[i].strip())
            i += 1
        check = _doctest_check(source, "\n".join(expected), "\n".join(setup))
        if check is not None:
            checks.append(check)
        elif _is_statement(source):
            setup.append(source)
    return checks


def _open_brackets(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _is_statement(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except SyntaxError:
        return False


def _doctest_check(source: str, expected: str, setup: str) -> Check | None:
    node = _parse_expr(source)
    origin = f">>> {source}"
    if not expected and isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
        return _compare_check(node, source, EXTRACTED, origin, setup)  # `>>> f(1) == 2` as an assert
    if node is None or not expected or expected.startswith("Traceback"):
        return None  # an expected exception is not a check we can state as a value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and len(node.args) == 1
        and not node.keywords
    ):
        return Check(
            expression=ast.unparse(node.args[0]),
            kind=STR,
            expected=expected,
            source=EXTRACTED,
            origin=origin,
            setup=setup,
        )
    joined = " ".join(expected.split("\n"))  # a pretty-printed value over several lines
    if _parse_expr(joined) is not None:
        op = "is" if joined in _SINGLETONS else "=="
        return Check(
            expression=source,
            kind=COMPARE,
            op=op,
            expected=joined,
            source=EXTRACTED,
            origin=origin,
            setup=setup,
        )
    return Check(
        expression=source, kind=REPR, expected=expected, source=EXTRACTED, origin=origin, setup=setup
    )


def checks_from_tests(code: str, *, source: str = GIVEN) -> list[Check]:
    """Checks from test code: its top-level asserts and `test_*` functions, with the rest as setup.

    Raises ValueError with one sentence when the code is not valid Python.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ValueError(f"the tests are not valid Python: line {exc.lineno}: {exc.msg}") from None
    asserts = [node for node in tree.body if isinstance(node, ast.Assert)]
    kept = [node for node in tree.body if not isinstance(node, ast.Assert)]
    setup = ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""
    checks = []
    for node in asserts:
        origin = (ast.get_source_segment(code, node) or "").strip()
        check = _compare_check(node.test, code, source, origin, setup)
        if check is not None:
            checks.append(check)
    for fn in tree.body:
        # Plain `def test_*()` only: pytest fixtures (parameters) and async tests are not run here.
        if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test"):
            if fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs:
                continue
            checks.append(
                Check(
                    expression=f"{fn.name}()", kind=CALL, source=source, setup=setup, origin=f"def {fn.name}"
                )
            )
    return checks


def _looks_like_tests(block: str) -> bool:
    return bool(re.search(r"^\s*(assert\b|def test|>>>)", block, re.M))


def _assert_lines(text: str) -> list[Check]:
    checks = []
    for line in text.splitlines():
        stripped = line.strip().strip("`").rstrip(";").strip()
        if not stripped.startswith("assert "):
            continue
        try:
            node = ast.parse(stripped).body[0]
        except SyntaxError:
            continue
        if isinstance(node, ast.Assert):
            check = _compare_check(node.test, stripped, EXTRACTED, stripped)
            if check is not None:
                checks.append(check)
    return checks


def extract_checks(task: str, *, entry_point: str | None = None) -> list[Check]:
    """The checks written in a task's text, in order, without duplicates.

    A fenced block holding asserts or `def test_` is the user's own test code (source "given");
    the rest is "extracted". With `entry_point`, only calls to that function count as prose checks.
    """
    checks: list[Check] = []
    prose = task
    for match in _FENCE.finditer(task):
        block = match.group(1)
        if _looks_like_tests(block) and ">>>" not in block:
            try:
                checks += checks_from_tests(block, source=GIVEN)
                prose = prose.replace(match.group(0), "\n")
            except ValueError:
                pass  # not Python after all: read it as prose
    checks += _doctest_checks(prose)
    prose = "\n".join(line for line in prose.splitlines() if not line.strip().startswith((">>>", "...")))
    checks += _assert_lines(prose)
    prose = "\n".join(line for line in prose.splitlines() if not line.strip().startswith("assert "))
    names = {entry_point} if entry_point else None
    checks += _prose_checks(prose.replace("`", ""), names)
    function = entry_point or _last_def(task)
    if function:
        checks += _input_output_checks(prose, function)
    return _dedupe(checks)


# Examples written without the call, as problem statements often do:
#   Input: arr = [-3, -4, 5], k = 3          For s = "abcde", c = "ae", the result should be ('bcd',False)
#   Output: [-4, -3, 5]
_INPUT = re.compile(r"^\s*(?:example\s*\d*\s*:?\s*)?input\s*:\s*(.+?)\s*$", re.I)
_OUTPUT = re.compile(r"^\s*output\s*:\s*(.+?)\s*$", re.I)
_FOR_RESULT = re.compile(
    r"^\s*for\s+(.+?),?\s+(?:the\s+)?(?:result|output)\s+(?:should\s+be|will\s+be|is)\s+(.+?)\.?\s*$", re.I
)
_JSON_WORDS = {"true": "True", "false": "False", "null": "None", "none": "None"}
_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.M)


def _last_def(task: str) -> str | None:
    names = _DEF.findall(task)
    return names[-1] if names else None


def _literal(text: str) -> str | None:
    """A value written as a Python literal (true/false/null read as Python's), else None."""
    text = _JSON_WORDS.get(text.strip().lower(), text.strip())
    node = _parse_expr(text)
    if node is None:
        return None
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return text


def _call_from_arguments(function: str, arguments: str) -> str | None:
    """`arr = [1, 2], k = 3` or `[1, 2], 3` as the call `function([1, 2], 3)`; names are dropped
    (they need not match the parameters), and every value must be a literal."""
    node = _parse_expr(f"{function}({arguments})")
    if not isinstance(node, ast.Call) or not (node.args or node.keywords):
        return None
    values = [*node.args, *(k.value for k in node.keywords)]
    if any(isinstance(v, ast.Starred) for v in values) or any(k.arg is None for k in node.keywords):
        return None
    parts = [ast.get_source_segment(f"{function}({arguments})", v) or ast.unparse(v) for v in values]
    if any(_literal(p) is None for p in parts):
        return None
    return f"{function}({', '.join(parts)})"


def _input_output_checks(text: str, function: str) -> list[Check]:
    found: list[Check] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        pair: tuple[str, str] | None = None
        if (m := _FOR_RESULT.match(line)) is not None:
            pair = (m.group(1), m.group(2))
        elif (m := _INPUT.match(line)) is not None:
            # The output follows within two lines ("Explanation:" lines may come after it).
            for later in lines[i + 1 : i + 3]:
                if (out := _OUTPUT.match(later)) is not None:
                    pair = (m.group(1), out.group(1))
                    break
        if pair is None:
            continue
        call, expected = _call_from_arguments(function, pair[0]), _literal(pair[1])
        if call is None or expected is None:
            continue
        op = "is" if expected in _SINGLETONS else "=="
        found.append(
            Check(
                expression=call, kind=COMPARE, op=op, expected=expected, source=EXTRACTED, origin=line.strip()
            )
        )
    return found


def _dedupe(checks: list[Check]) -> list[Check]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for check in checks:
        key = (check.display, check.setup)
        if key not in seen:
            seen.add(key)
            unique.append(check)
    return unique


def guess_entry_point(task: str, checks: list[Check] | None = None) -> str | None:
    """The function the task asks for: `def name(` in the task, else "write/implement name(", else
    the function most of the checks call."""
    for found in re.finditer(r"\bdef\s+([A-Za-z_]\w*)\s*\(", task):
        if not found.group(1).startswith("test"):
            return found.group(1)
    if match := re.search(
        r"\b(?:write|implement|create|define|complete|code)\s+(?:a\s+function\s+)?`?"
        r"([A-Za-z_]\w*)\s*\(",
        task,
        re.I,
    ):
        return match.group(1)
    counts: dict[str, int] = {}
    for check in checks or []:
        if m := _CALL_START.match(check.expression):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return max(counts, key=lambda name: counts[name]) if counts else None


def _code_of(text: str) -> str:
    """The fenced code in a model's answer, else the answer itself."""
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    return "\n".join(blocks) if blocks else text


def calls_from_text(text: str, entry_point: str, *, limit: int = 10) -> list[str]:
    """Call expressions a model proposed as inputs (`f(1, 2)`, one a line, fenced or not, optionally
    numbered or bulleted): only self-contained calls to `entry_point`, no duplicates, at most `limit`."""
    calls: list[str] = []
    for line in _code_of(text).splitlines():
        stripped = re.sub(r"^\s*(?:[-*•]|\d+[.)])?\s*", "", line).strip().strip("`").rstrip(",;").strip()
        node = _parse_expr(stripped)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == entry_point
            and _self_contained(node)
            and stripped not in calls
        ):
            calls.append(stripped)
            if len(calls) >= limit:
                break
    return calls


def model_checks(text: str, *, entry_point: str | None = None) -> list[Check]:
    """Asserts a model wrote (fenced or not), as checks of source "model": they rank candidates only."""
    checks = [replace(c, source=MODEL) for c in _assert_lines(_code_of(text))]
    if entry_point:
        checks = [c for c in checks if re.match(rf"(?:not\s+)?{re.escape(entry_point)}\s*\(", c.expression)]
    return _dedupe(checks)


def example_check(text: str, *, entry_point: str | None = None) -> Check:
    """The one example a user types when asked (`--example`, the Run view's prompt): a call and its
    result, in any of the forms a task may use. Source "given". Raises ValueError with one sentence."""
    found = [c for c in extract_checks(text, entry_point=entry_point) if c.kind == COMPARE]
    if not found:
        name = entry_point or "f"
        raise ValueError(f"write the example as a call and its result, e.g. {name}(2) -> 4")
    return replace(found[0], source=GIVEN)
