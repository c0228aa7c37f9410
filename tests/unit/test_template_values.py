"""The domain's per-contact template values: literal, column, default, missing; cells cleaned for WhatsApp."""

from __future__ import annotations

from chalicelib.domain.templates import MAX_PARAM_CHARS, literal_problem, quick_reply_payloads, resolve_values


def test_values_come_from_the_literal_the_column_or_the_default_and_missing_ones_are_named() -> None:
    # GIVEN a spec with a literal, a column with a default, and a column without one
    spec = {"1": "Spring", "2": {"column": "first_name", "default": "there"}, "3": {"column": "order"}}
    # WHEN a contact with both cells, and one with neither, are resolved
    full = resolve_values(spec, {"first_name": "Ada", "order": "A-1"})
    empty = resolve_values(spec, {"first_name": "  "})
    # THEN the first has its own values, the second the default and `order` missing
    assert full == ({"1": "Spring", "2": "Ada", "3": "A-1"}, [])
    assert empty == ({"1": "Spring", "2": "there"}, ["order"])


def test_a_cell_with_new_lines_tabs_or_long_runs_of_spaces_is_sent_as_one_line_and_cut_to_size() -> None:
    # WHEN cells WhatsApp would refuse as parameters are resolved
    values, _ = resolve_values(
        {"1": {"column": "a"}, "2": {"column": "b"}}, {"a": "two\nlines\tand     spaces", "b": "x" * 2000}
    )
    # THEN they are sent cleaned, and the cleaned values are ones WhatsApp takes
    assert values["1"] == "two lines and spaces" and len(values["2"]) == MAX_PARAM_CHARS
    assert all(literal_problem(v) is None for v in values.values())


def test_each_quick_reply_carries_campaign_recipient_and_button() -> None:
    assert quick_reply_payloads("cmp_1", 7, 2) == ("mc1:cmp_1:7:0", "mc1:cmp_1:7:1")
