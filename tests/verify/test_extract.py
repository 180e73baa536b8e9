"""Checks come out of the many ways a task states its examples, and nothing is evaluated doing it."""

from __future__ import annotations

import pytest

from jarvis.chains.verify.checks import CALL, COMPARE, EXTRACTED, GIVEN, MODEL, REPR, STR, TRUTH, Check
from jarvis.chains.verify.extract import (
    calls_from_text,
    checks_from_tests,
    example_check,
    extract_checks,
    guess_entry_point,
    model_checks,
)


def shown(task: str, **kw) -> list[str]:
    return [c.display for c in extract_checks(task, **kw)]


def test_the_issues_example():
    checks = extract_checks("write is_prime(n); is_prime(7) is True, is_prime(1) is False")
    assert [c.display for c in checks] == ["is_prime(7) is True", "is_prime(1) is False"]
    assert all(c.kind == COMPARE and c.source == EXTRACTED and c.authoritative for c in checks)
    assert checks[0].expression == "is_prime(7)" and checks[0].op == "is" and checks[0].expected == "True"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("Write add(a, b). add(2, 3) == 5 and add(-1, 1) == 0.", ["add(2, 3) == 5", "add(-1, 1) == 0"]),
        ("f([1,2]) returns 3. f([]) should return 0", ["f([1,2]) == 3", "f([]) == 0"]),
        ("sort_desc([3, 1, 2]) -> [3, 2, 1]", ["sort_desc([3, 1, 2]) == [3, 2, 1]"]),
        ("Implement `fib(n)`: `fib(10)` returns `55`, fib(0) gives 0.", ["fib(10) == 55", "fib(0) == 0"]),
        ("square(3) is 9", ["square(3) == 9"]),  # prose "is" means equals, except for singletons
        ("is_even(3) is not True", ["is_even(3) is not True"]),
        (
            "count('banana', 'a') must return 3; count('', 'a') → 0",
            ["count('banana', 'a') == 3", "count('', 'a') == 0"],
        ),
        ("For example, pair(1, 2) should be (1, 2).", ["pair(1, 2) == (1, 2)"]),
        (
            "split_words('a b') == ['a', 'b'], split_words('') == []",
            ["split_words('a b') == ['a', 'b']", "split_words('') == []"],
        ),
        ("clamp(5, lo=0, hi=3) evaluates to 3", ["clamp(5, lo=0, hi=3) == 3"]),
        ("f(1.5) == 3.0.", ["f(1.5) == 3.0"]),
        ("will_it_fly([1, 2], 5) ➞ False", ["will_it_fly([1, 2], 5) is False"]),
        ("iscube(1) ==> True\niscube(2)==>False", ["iscube(1) is True", "iscube(2) is False"]),
        ('decimal_to_binary(15)   # returns "db1111db"', ['decimal_to_binary(15) == "db1111db"']),
        ("file_name_check('a.txt') # => 'Yes'", ["file_name_check('a.txt') == 'Yes'"]),
        (
            "lookup({'a': 1}, 'a') returns 1 but lookup({}, 'a') returns None",
            ["lookup({'a': 1}, 'a') == 1", "lookup({}, 'a') is None"],
        ),
    ],
)
def test_prose_phrasings(task, expected):
    assert shown(task) == expected


@pytest.mark.parametrize(
    "task",
    [
        "write is_prime(n) that returns True for primes",  # no example: a description
        "f(n) returns n squared; f(x) returns x.",  # free names: not a check we can run
        "def square(x) -> int: squares x",  # a signature's arrow is not "returns"
        "Call print(x) to see it.",
        "tri(1) = 3 and tri(n) = 1 + n / 2",  # "=" defines as often as it shows an example
        "tri(1) = 3",  # a bare "=" before anything but True / False / None
        "Input: arr = [1, 2]\nOutput: the largest element",  # no value we can compare
        "",
    ],
)
def test_descriptions_are_not_checks(task):
    assert shown(task) == []


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        # JSON-style words after an arrow, as many problem statements write them
        (
            "is_simple_power(1, 4) => true\nis_simple_power(3, 2) => false",
            ["is_simple_power(1, 4) is True", "is_simple_power(3, 2) is False"],
        ),
        # a bare "=" before True / False
        ('simplify("1/5", "5/1") = True', ['simplify("1/5", "5/1") is True']),
        # Input: / Output: pairs call the function the task defines (names dropped, in order)
        (
            "def maximum(arr, k):\n    Example 1:\n        Input: arr = [-3, -4, 5], k = 3\n"
            "        Output: [-4, -3, 5]\n    Example 2:\n        Input: [4, -4, 4], 2\n"
            "        Explanation: the two largest\n        Output: [4, 4]\n",
            ["maximum([-3, -4, 5], 3) == [-4, -3, 5]", "maximum([4, -4, 4], 2) == [4, 4]"],
        ),
        # "For ..., the result should be ..."
        (
            "def reverse_delete(s, c):\n"
            '    For s = "abcde", c = "ae", the result should be (\'bcd\',False)\n',
            ['reverse_delete("abcde", "ae") == (\'bcd\',False)'],
        ),
    ],
)
def test_examples_written_without_python(task, expected):
    assert shown(task) == expected


def test_doctest_lines_with_their_expected_output_and_earlier_statements_as_setup():
    task = """Write f.
    >>> f(2)
    4
    >>> xs = [1, 2]
    >>> f(len(xs))
    4
    >>> f('a')
    Traceback (most recent call last):
    ValueError: no
    >>> print(greet('a'))
    hello a
    >>> pairs(2)
    [(0, 0),
     (1, 1)]
    >>> shown(1)
    <Thing 1>
    >>> f(1) == 2
    """
    checks = extract_checks(task)
    assert [c.display for c in checks] == [
        "f(2) == 4",
        "f(len(xs)) == 4",
        "greet('a') shows hello a",
        "pairs(2) == [(0, 0), (1, 1)]",
        "shown(1) shows <Thing 1>",
        "f(1) == 2",
    ]  # the last: a comparison with no output line
    assert checks[0].setup == "" and checks[1].setup == "xs = [1, 2]"
    assert checks[2].kind == STR and checks[3].kind == COMPARE and checks[4].kind == REPR
    assert checks[0].origin == ">>> f(2)"


def test_assert_lines():
    task = (
        "Make rev work:\nassert rev('ab') == 'ba'\n  `assert rev('')==''`\nassert is_even(2)\nassert broken(("
    )
    checks = extract_checks(task)
    assert [c.display for c in checks] == ["rev('ab') == 'ba'", "rev('') == ''", "is_even(2)"]
    assert checks[2].kind == TRUTH


def test_a_pytest_block_in_the_task_is_given_tests():
    task = """Write f. Here are my tests:
```python
from solution import f

def helper():
    return 1

def test_one():
    assert f(1) == 2

def test_with_fixture(tmp_path):
    pass

assert f(0) == 1
```
and f(5) returns 6."""
    checks = extract_checks(task)
    by_display = {c.display: c for c in checks}
    assert list(by_display) == ["f(0) == 1", "test_one() passes", "f(5) == 6"]
    assert by_display["test_one() passes"].kind == CALL and by_display["test_one() passes"].source == GIVEN
    assert "from solution import f" in by_display["f(0) == 1"].setup
    assert "def helper" in by_display["test_one() passes"].setup
    assert by_display["f(5) == 6"].source == EXTRACTED


def test_a_code_block_without_tests_is_not_read_as_tests():
    task = "Finish this:\n```python\ndef f(x):\n    pass\n```\nf(2) returns 4"
    assert shown(task) == ["f(2) == 4"]


def test_test_code_that_is_not_python_says_so_in_one_sentence():
    with pytest.raises(ValueError, match=r"^the tests are not valid Python: line 1: "):
        checks_from_tests("def test_x(:\n    pass\n")


def test_checks_from_a_test_file():
    code = (
        "import math\n\ndef test_a():\n    assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n\n"
        "async def test_async():\n    pass\n\nassert area(0) == 0\n"
    )
    checks = checks_from_tests(code)
    assert [c.display for c in checks] == ["area(0) == 0", "test_a() passes"]
    assert all(c.source == GIVEN for c in checks)


def test_duplicates_are_dropped_and_order_kept():
    assert shown("f(1) == 2. Again: f(1) == 2, and f(2) == 3") == ["f(1) == 2", "f(2) == 3"]


def test_entry_point_limits_prose_checks_to_that_function():
    assert shown("g(1) == 2 and f(1) == 3", entry_point="f") == ["f(1) == 3"]


@pytest.mark.parametrize(
    ("task", "name"),
    [
        ("write is_prime(n); is_prime(7) is True", "is_prime"),
        ("Complete the function:\ndef solve(xs):\n    ...", "solve"),
        ("Implement a function fizz(n)", "fizz"),
        ("def test_x(): pass\ndef real(y): ...", "real"),
    ],
)
def test_entry_point_guess(task, name):
    assert guess_entry_point(task) == name


def test_entry_point_from_the_checks_when_the_text_does_not_say():
    checks = extract_checks("h(1) == 2, h(2) == 3, k(0) == 0")
    assert guess_entry_point("make it work", checks) == "h"
    assert guess_entry_point("no hints here") is None


def test_checks_round_trip_through_json_and_only_given_and_extracted_are_authoritative():
    check = Check(expression="f(1)", kind=COMPARE, op="==", expected="2", source=MODEL, setup="x = 1")
    assert Check.from_json(check.to_json()) == check
    assert not check.authoritative
    assert Check("f()", kind=CALL).display == "f() passes"


def test_nothing_is_evaluated_while_extracting(tmp_path):
    marker = tmp_path / "touched"
    task = f"__import__('pathlib').Path({str(marker)!r}).touch() == None\n>>> open({str(marker)!r}, 'w')\nx\n"
    extract_checks(task)
    assert not marker.exists()


def test_calls_a_model_proposed_as_inputs():
    answer = "Inputs:\n```python\n1. f(1)\n- f([1, 2]),\n`f('a')`\nf(x)\ng(2)\nf(1)\nprint(f(3))\n```"
    assert calls_from_text(answer, "f") == ["f(1)", "f([1, 2])", "f('a')"]
    assert calls_from_text("f(1)\nf(2)\nf(3)", "f", limit=2) == ["f(1)", "f(2)"]
    assert calls_from_text("no calls here", "f") == []


def test_asserts_a_model_wrote_are_model_checks_for_its_function_only():
    checks = model_checks(
        "```\nassert f(1) == 2\nassert g(1)\nassert not f(0)\nassert f(1) == 2\n```", entry_point="f"
    )
    assert [c.display for c in checks] == ["f(1) == 2", "not f(0)"]
    assert all(c.source == MODEL and not c.authoritative for c in checks)


def test_a_doctest_output_is_one_line_unless_its_brackets_are_open():
    task = ">>> f(2)\n4\nAlso f(3) == 9.\n>>> grid(2)\n[[0, 0],\n [0, 0]]\nand more prose"
    assert shown(task) == ["f(2) == 4", "grid(2) == [[0, 0], [0, 0]]", "f(3) == 9"]


@pytest.mark.parametrize(
    "typed",
    [
        "is_prime(7) -> True",
        "is_prime(7) is True",
        ">>> is_prime(7)\nTrue",
        "is_prime(7) returns True",
        "assert is_prime(7) is True",
    ],
)
def test_one_example_the_user_types(typed):
    check = example_check(typed, entry_point="is_prime")
    assert check.display == "is_prime(7) is True" and check.source == GIVEN


def test_an_example_that_is_not_a_call_and_result_says_how_to_write_one():
    sentence = r"^write the example as a call and its result, e\.g\. is_prime\(2\) -> 4$"
    with pytest.raises(ValueError, match=sentence):
        example_check("seven is prime", entry_point="is_prime")
    with pytest.raises(ValueError, match=r"e\.g\. f\(2\) -> 4$"):
        example_check("g(1) -> 2", entry_point="f")
