"""One file's outline for the repo map: what it defines (with signatures) and which names it uses.

Python is read with `ast` (classes, functions, methods with their signatures); other languages with a
few regular expressions (a rough outline beats none). Nothing here reads the disk.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
#: Definitions in other languages: (regex, kind); the first group is the name, the whole match the line.
_OTHER_DEFS = [
    re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_]\w*)[^{\n]*", re.M),
    re.compile(r"^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_]\w*)\s*\([^)\n]*\)?", re.M),
    re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+([A-Za-z_]\w*)[^{\n;]*", re.M),
    re.compile(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\([^{\n]*", re.M),
    re.compile(r"^\s*(?:pub\s+)?(?:struct|enum|trait|interface|type)\s+([A-Za-z_]\w*)[^{\n=]*", re.M),
    re.compile(r"^\s*def\s+([A-Za-z_]\w*[?!]?)[^\n]*", re.M),  # Ruby
]
#: Suffixes worth outlining with the fallback; anything else (data, docs) is listed by path only.
CODE_SUFFIXES = frozenset(
    {
        ".js",
        ".jsx",
        ".ts",
        ".tsx",
        ".mjs",
        ".cjs",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cs",
        ".rb",
        ".php",
        ".swift",
        ".scala",
        ".sh",
    }
)
#: Names every file uses; as references they say nothing about which file matters.
_COMMON = frozenset(
    {
        "self",
        "cls",
        "None",
        "True",
        "False",
        "return",
        "import",
        "from",
        "def",
        "class",
        "async",
        "await",
        "for",
        "while",
        "not",
        "and",
        "the",
    }
)


@dataclass
class Outline:
    #: Lines of the outline, indented by nesting ("class Foo(Base):", "  def bar(self, x: int) -> str").
    lines: list[str]
    #: Names this file defines (top-level and members).
    defines: list[str]
    #: Names this file uses (identifiers, once each).
    uses: list[str]
    #: The outline is a guess (regex) or the file did not parse.
    rough: bool = False


def outline(rel_path: str, text: str) -> Outline:
    if rel_path.endswith((".py", ".pyi")):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            pass  # a file mid-edit: the regex fallback still finds its defs
        else:
            return _python(tree, text)
    suffix = "." + rel_path.rsplit(".", 1)[-1] if "." in rel_path else ""
    if suffix not in CODE_SUFFIXES and not rel_path.endswith(".py"):
        return Outline([], [], [])
    return _regex(text)


def _python(tree: ast.Module, text: str) -> Outline:
    lines: list[str] = []
    defines: list[str] = []

    def visit(body: list[ast.stmt], depth: int) -> None:
        pad = "  " * depth
        for node in body:
            if isinstance(node, ast.ClassDef):
                if _private(node.name) and depth:
                    continue
                bases = ", ".join(ast.unparse(b) for b in node.bases)
                lines.append(f"{pad}class {node.name}{f'({bases})' if bases else ''}:")
                defines.append(node.name)
                visit(node.body, depth + 1)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _private(node.name):
                    continue  # helpers are not the module's interface; the map's tokens go further
                prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
                returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
                lines.append(f"{pad}{prefix} {node.name}({ast.unparse(node.args)}){returns}")
                defines.append(node.name)
            elif depth == 0 and isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    # Module constants (UPPER_CASE) are part of a module's interface; other globals rarely.
                    if isinstance(t, ast.Name) and t.id.isupper() and not t.id.startswith("_"):
                        lines.append(f"{pad}{t.id}")
                        defines.append(t.id)

    visit(tree.body, 0)
    return Outline(lines, defines, _uses(text, defines))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _regex(text: str) -> Outline:
    found: list[tuple[int, str, str]] = []
    for rx in _OTHER_DEFS:
        for m in rx.finditer(text):
            found.append((m.start(), m.group(1), " ".join(m.group(0).split())[:160]))
    found.sort()
    lines = [line for _, _, line in found]
    defines = [name for _, name, _ in found]
    return Outline(lines, defines, _uses(text, defines), rough=True)


def _uses(text: str, defines: list[str]) -> list[str]:
    own = set(defines)
    return sorted({w for w in _IDENT.findall(text) if w not in own and w not in _COMMON})
