from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.core.rates import MAX_LIMIT, MAX_WINDOW, Rate, RateError, parse_rate

GRAMMAR = re.compile(r"[1-9][0-9]*/([1-9][0-9]*)?[smhd]", re.ASCII)
UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/m", Rate(100, 60)),
        ("10/5m", Rate(10, 300)),
        ("1000/1d", Rate(1000, 86400)),
        ("1/s", Rate(1, 1)),
        ("5/7d", Rate(5, 604800)),
        ("1000000000/h", Rate(10**9, 3600)),
    ],
)
def test_valid_rates_parse(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text",
    [
        "5/minute",
        "5/m ",
        " 5/m",
        "5 /m",
        "0/m",
        "05/m",
        "5/0m",
        "5/05m",
        "5/x",
        "5",
        "/m",
        "5/",
        "-5/m",
        "5/-1m",
        "1000000001/m",
        "5/8d",
        "5/605000s",
        "٥/m",
        "5/m\n",
        "5/M",
        "5.0/m",
        "",
        "5//m",
        "1e3/m",
        "5/m/m",
    ],
)
def test_invalid_rates_are_rejected(text):
    with pytest.raises(RateError):
        parse_rate(text)


@pytest.mark.parametrize("value", [None, 5, 5.0, b"5/m", ["5/m"], (5, 60)])
def test_non_strings_are_rejected(value):
    with pytest.raises(RateError):
        parse_rate(value)


@given(st.text(max_size=30))
def test_no_string_outside_the_grammar_is_accepted_and_none_crashes(text):
    try:
        rate = parse_rate(text)
    except RateError:
        assert not GRAMMAR.fullmatch(text) or _out_of_bounds(text)
    else:
        assert GRAMMAR.fullmatch(text)
        assert 1 <= rate.limit <= MAX_LIMIT
        assert 1 <= rate.window <= MAX_WINDOW


@given(st.from_regex(GRAMMAR, fullmatch=True))
def test_every_string_of_the_grammar_within_bounds_parses(text):
    if _out_of_bounds(text):
        with pytest.raises(RateError):
            parse_rate(text)
    else:
        rate = parse_rate(text)
        count, _, period = text.partition("/")
        assert rate.limit == int(count)
        assert rate.window == int(period[:-1] or 1) * UNIT[period[-1]]


def _out_of_bounds(text: str) -> bool:
    count, _, period = text.partition("/")
    window = int(period[:-1] or 1) * UNIT[period[-1]]
    return int(count) > MAX_LIMIT or window > MAX_WINDOW


@given(st.integers(1, MAX_LIMIT), st.integers(1, MAX_WINDOW))
def test_a_rate_prints_as_text_that_parses_back_to_itself(limit, window):
    assert parse_rate(str(Rate(limit, window))) == Rate(limit, window)
