"""The repo map: outlines from ast (and a regex fallback), ranked toward the task, within budget, cached."""

from __future__ import annotations

import json

from jarvis.chains.context.outline import outline
from jarvis.chains.context.repomap import build_repo_map
from tests.context.project_fixture import make_project


def _pairs(root):
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.py"))]


def test_python_outline_has_classes_functions_and_signatures():
    o = outline(
        "p.py", "X_MAX = 3\nclass A(B):\n    def f(self, x: int = 1) -> str: ...\n    def _h(self): ...\n"
    )
    assert o.lines == ["X_MAX", "class A(B):", "  def f(self, x: int=1) -> str"]
    assert "f" in o.defines and "_h" not in " ".join(o.lines)


def test_other_languages_get_a_rough_outline():
    o = outline("x.ts", "export class Foo extends Bar {\n}\nexport async function go(a: number) {\n}\n")
    assert o.rough and o.lines == ["export class Foo extends Bar", "export async function go(a: number)"]
    assert outline("data.csv", "a,b\n").lines == []


def test_map_ranks_what_the_task_names_and_what_it_uses_and_fits_the_budget(tmp_path):
    root = make_project(tmp_path / "proj")
    rmap = build_repo_map(root, _pairs(root), task="add a --verbose flag to cli.py", budget=60)
    assert rmap.ranked[0] == "app/cli.py"
    # cli.py uses parse, defined in parser.py: it outranks util.py, which nothing uses.
    assert rmap.ranked.index("app/parser.py") < rmap.ranked.index("app/util.py")
    assert rmap.tokens <= 60 and "def main(argv: list[str] | None=None) -> int" in rmap.text
    roomy = build_repo_map(root, _pairs(root), budget=2000)
    assert (
        "class ParseError(ValueError):" in roomy.text
        and "def parse(text: str) -> dict[str, str]" in roomy.text
    )


def test_second_map_reads_the_cache_and_a_changed_file_is_parsed_again(tmp_path):
    root = make_project(tmp_path / "proj")
    cache = tmp_path / "cache"
    first = build_repo_map(root, _pairs(root), cache_dir=cache)
    [cache_file] = list(cache.iterdir())
    assert first.parsed == len(_pairs(root)) and first.cache_hits == 0
    stamp = cache_file.stat().st_mtime_ns
    second = build_repo_map(root, _pairs(root), cache_dir=cache)
    assert second.parsed == 0 and second.cache_hits == len(_pairs(root)) and second.text == first.text
    assert cache_file.stat().st_mtime_ns == stamp, "an unchanged project does not rewrite the cache"
    (root / "app" / "util.py").write_text("def helper(x: int, y: int) -> int:\n    return x + y\n")
    third = build_repo_map(root, _pairs(root), cache_dir=cache, budget=2000)
    assert third.parsed == 1 and "def helper(x: int, y: int) -> int" in third.text
    cached = json.loads(cache_file.read_text())["files"]["app/util.py"]
    assert cached["lines"] == ["def helper(x: int, y: int) -> int"]
