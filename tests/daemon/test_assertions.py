"""The json_path subset (assertions.py): what parses, what is refused and how, and what a
parsed path says about a body (README "json_path is a small JSONPath subset")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from slamon_daemon.assertions import JSON_PATH_HELP, parse_json_path

# -- accepted forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps", "op", "value"),
    [
        ("$", (), None, None),
        ("$.status", ("status",), None, None),
        ("  $.status  ", ("status",), None, None),
        ("$.status == 'UP'", ("status",), "==", "UP"),
        ('$.status == "UP"', ("status",), "==", "UP"),
        ("$.status=='UP'", ("status",), "==", "UP"),
        ("$.status != 'DOWN'", ("status",), "!=", "DOWN"),
        ("$.msg == 'two words, and = signs'", ("msg",), "==", "two words, and = signs"),
        ("$.checks[0].ok", ("checks", 0, "ok"), None, None),
        ("$.a.b[12].c_d", ("a", "b", 12, "c_d"), None, None),
        ("$.matrix[1][2]", ("matrix", 1, 2), None, None),
        ("$[0]", (0,), None, None),
        ("$.kebab-key", ("kebab-key",), None, None),
        ("$['key with space'].x", ("key with space", "x"), None, None),
        ('$["dotted.key"]', ("dotted.key",), None, None),
        ("$.count == 3", ("count",), "==", 3),
        ("$.ratio == 0.5", ("ratio",), "==", 0.5),
        ("$.delta == -2", ("delta",), "==", -2),
        ("$.big == 1e3", ("big",), "==", 1000.0),
        ("$.ok == true", ("ok",), "==", True),
        ("$.ok != false", ("ok",), "!=", False),
        ("$.error == null", ("error",), "==", None),
        ("$ == null", (), "==", None),
    ],
)
def test_accepted_forms(text: str, steps: tuple[Any, ...], op: str | None, value: Any) -> None:
    jp = parse_json_path(text)
    assert jp.text == text
    assert jp.steps == steps
    assert jp.op == op
    assert jp.value == value and type(jp.value) is type(value)


# -- refused forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "status",
        "status == 'UP'",
        "$.",
        "$..status",  # recursive descent
        "$.*",
        "$[*]",
        "$.items[-1]",  # negative index
        "$.items[?(@.ok)]",  # filters
        "$.0abc",
        "$.count > 0",  # only == and !=
        "$.count >= 1",
        "$.status = 'UP'",
        "$.status ==",
        "$.status == UP",  # unquoted word
        "$.status == 'UP",  # unterminated string
        "$.ok == True",  # JSON literals are lower case
        "$.n == +1",
        "$.n == 0x10",
        "$.list.length > 0",
    ],
)
def test_refused_forms_say_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_json_path(text)
    msg = str(info.value)
    assert JSON_PATH_HELP in msg  # what is allowed
    assert "\"$.status == 'UP'\"" in msg  # with an example
    assert "== or !=" in msg


def test_refusal_names_the_part_it_cannot_read() -> None:
    with pytest.raises(ValueError, match=r"cannot read ' > 0'"):
        parse_json_path("$.count > 0")
    with pytest.raises(ValueError, match=r"cannot read the value 'UP'"):
        parse_json_path("$.status == UP")


@pytest.mark.parametrize(
    "text", ["$.status == 'UP' || 'OK'", "$.status == 'UP' == 'OK'", "$['key\"]"]
)
def test_refuses_more_than_one_literal_or_mismatched_quotes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_json_path(text)


# -- evaluation ---------------------------------------------------------------------------------


def verdict(text: str, doc: Any) -> str | None:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_json_path(text).check(body)


@pytest.mark.parametrize(
    ("text", "doc", "ok"),
    [
        # strings: exact, case-sensitive, never equal to numbers
        ("$.s == 'UP'", {"s": "UP"}, True),
        ("$.s == 'UP'", {"s": "up"}, False),
        ("$.s == 'UP'", {"s": "UP "}, False),
        ("$.s != 'DOWN'", {"s": "UP"}, True),
        ("$.s != 'UP'", {"s": "UP"}, False),
        ("$.s == '3'", {"s": 3}, False),
        ("$.s == 3", {"s": "3"}, False),
        ("$.s == 'é'", {"s": "é"}, True),
        # numbers by value
        ("$.n == 3", {"n": 3}, True),
        ("$.n == 3", {"n": 3.0}, True),
        ("$.n == 3.0", {"n": 3}, True),
        ("$.n != 3", {"n": 3.0}, False),
        ("$.n == 3", {"n": 3.5}, False),
        ("$.n == 1e3", {"n": 1000}, True),
        ("$.n == -2", {"n": -2}, True),
        # booleans are not numbers
        ("$.b == true", {"b": True}, True),
        ("$.b == 1", {"b": True}, False),
        ("$.b != 1", {"b": True}, True),
        ("$.n == true", {"n": 1}, False),
        ("$.n == false", {"n": 0}, False),
        ("$.b == false", {"b": False}, True),
        # null and missing: a missing value compares as null
        ("$.x == null", {"x": None}, True),
        ("$.x == null", {}, True),
        ("$.x != null", {}, False),
        ("$.x != null", {"x": 0}, True),
        ("$.x == null", {"x": False}, False),
        ("$.x == 'UP'", {}, False),
        # bare path: exists and is not null/false
        ("$.x", {"x": "UP"}, True),
        ("$.x", {"x": 0}, True),
        ("$.x", {"x": ""}, True),
        ("$.x", {"x": []}, True),
        ("$.x", {"x": True}, True),
        ("$.x", {"x": None}, False),
        ("$.x", {"x": False}, False),
        ("$.x", {}, False),
        ("$", {"anything": 1}, True),
        ("$", None, False),
        ("$", False, False),
        # containers compare as JSON
        ("$.x == null", {"x": []}, False),
    ],
)
def test_evaluation(text: str, doc: Any, ok: bool) -> None:
    reason = verdict(text, doc)
    if ok:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(f"json_path {text}: ")


DOC = {
    "status": "UP",
    "components": {
        "db": {"status": "UP", "details": {"pool": [3, 7, {"active": 2}]}},
        "disk space": {"free": 1024},
        "a.b": {"c": "dotted"},
    },
    "checks": [{"name": "db", "ok": True}, {"name": "cache", "ok": False}],
    "matrix": [[1, 2], [3, 4]],
    "kebab-key": "k",
}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("$.components.db.status == 'UP'", True),
        ("$.components.db.details.pool[1] == 7", True),
        ("$.components.db.details.pool[2].active == 2", True),
        ("$.components.db.details.pool[3]", False),  # out of range: missing
        ("$.components['disk space'].free == 1024", True),
        ("$.components[\"a.b\"].c == 'dotted'", True),
        ("$.components.a.b.c", False),  # dots in a name need the quoted form
        ("$.checks[0].ok", True),
        ("$.checks[1].ok", False),
        ("$.checks[1].ok == false", True),
        ("$.checks[1].name != 'db'", True),
        ("$.matrix[1][0] == 3", True),
        ("$.matrix[0][1] == 2", True),
        ("$.matrix[2][0]", False),
        ("$.kebab-key == 'k'", True),
        ("$.checks.name", False),  # a name step on a list: missing
        ("$.components[0]", False),  # an index step on an object: missing
        ("$.status[0]", False),  # an index step on a string: missing
        ("$.status.length", False),
        ("$['status'] == 'UP'", True),
    ],
)
def test_nested_paths(text: str, ok: bool) -> None:
    assert (verdict(text, DOC) is None) is ok, verdict(text, DOC)


@pytest.mark.parametrize(
    ("text", "doc", "reason"),
    [
        ("$.s == 'UP'", {"s": "DOWN"}, "json_path $.s == 'UP': got \"DOWN\""),
        ("$.s == 'UP'", {}, "json_path $.s == 'UP': got missing"),
        ("$.s != null", {"s": None}, "json_path $.s != null: got null"),
        ("$.n == 3", {"n": 4.5}, "json_path $.n == 3: got 4.5"),
        ("$.x", {"x": False}, "json_path $.x: not found or null/false"),
        ("$.s == 'UP'", b"<html>", "json_path $.s == 'UP': body is not JSON"),
        ("$.s == 'UP'", b"\x80\x81 not utf-8", "json_path $.s == 'UP': body is not JSON"),
        ("$.s == 'UP'", b"", "json_path $.s == 'UP': body is not JSON"),
        ("$.s == 'UP'", b'{"s": "UP"', "json_path $.s == 'UP': body is not JSON"),
    ],
)
def test_reasons(text: str, doc: Any, reason: str) -> None:
    assert verdict(text, doc) == reason


def test_long_values_are_cut_in_the_reason() -> None:
    reason = verdict("$.s == 'UP'", {"s": "x" * 500})
    assert reason is not None and len(reason) < 120


def test_body_with_utf8_text_and_surrounding_whitespace() -> None:
    body = '\n  {"état": "prêt", "s": "UP"}  \n'.encode()
    assert parse_json_path("$.s == 'UP'").check(body) is None
    assert parse_json_path("$['état'] == 'prêt'").check(body) is None
