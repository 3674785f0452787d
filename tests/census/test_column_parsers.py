"""The whole-column fast paths of the census import give what the cell parsers give, cell by cell."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gaizao.estates.census import values as v
from gaizao.estates.census.importer import Catalogue

fast = settings(max_examples=200, deadline=None)
TEXT_CELLS = st.one_of(
    st.text(max_size=30), st.sampled_from(["", " ", "　", "幸福小区 ", " 'A", "'=1+1", "a\x01b", "x\ny", "\ufeff名"]),
)
NUMBER_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-200, max_value=200),
    st.floats(min_value=0, max_value=1e9), st.sampled_from([0.125, 2.675, 1e15, -0.0, 120.1234567, 30.0]),
)


def _cell_by_cell(parse, column):
    out = []
    for cell in column:
        try:
            out.append(("ok", parse(cell)))
        except v.ValueProblem:
            out.append(("error", None))
    return out


@fast
@given(st.lists(TEXT_CELLS, max_size=12), st.sampled_from([5, 32, 128]))
def test_text_column_equals_parse_text(column, max_length):
    result = v.text_column(column, max_length=max_length)
    expected = _cell_by_cell(lambda cell: v.parse_text(cell, max_length=max_length), column)
    if result is not None:
        assert [("ok", value) for value in result] == expected
    if column and all(outcome == "ok" for outcome, _value in expected) and all(
            isinstance(c, str) and c.strip(v.EDGE_SPACES) == c and not c.startswith("'") for c in column):
        assert result is not None  # the common clean case does take the fast path


@fast
@example([2.675, 0.125, 30.0], 2, (None, None))  # halves are rounded as the written decimal, not the binary float
@given(st.lists(NUMBER_CELLS, max_size=12), st.sampled_from([2, 6]),
       st.sampled_from([(None, None), (73, 136), (0, 100_000_000)]))
def test_decimal_column_equals_parse_decimal(column, places, bounds):
    low, high = bounds
    result = v.decimal_column(column, places=places, min_value=low, max_value=high)
    expected = _cell_by_cell(lambda cell: v.parse_decimal(cell, places=places, min_value=low, max_value=high), column)
    if result is not None:
        assert [("ok", value) for value in result] == expected
        assert [str(value) for value in result] == [str(value) for _ok, value in expected]
    elif column and all(outcome == "ok" for outcome, _value in expected) and all(
            isinstance(c, float) and abs(c) < 1e15 for c in column):
        pytest.fail("a clean column of numbers should take the fast path")


@pytest.mark.django_db
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_catalogue_column_ids_equals_cell_ids(data):
    catalogue = Catalogue()
    spellings = sorted({item.name for item in catalogue.items.values()})[:12] + ["不存在的项目", "无数据", " ", ""]
    separators = ["、", "，", ",", ";", "；", "/", "\n", "、、", " 、"]
    cells = data.draw(st.lists(st.one_of(
        st.none(),
        st.lists(st.sampled_from(spellings), max_size=5).flatmap(
            lambda parts: st.lists(st.sampled_from(separators), min_size=len(parts), max_size=len(parts)).map(
                lambda seps: "".join(p + s for p, s in zip(parts, seps, strict=True)))),
        st.sampled_from(["-", "无数据", "供水设施", 12.0]),
    ), max_size=8))
    expected = _cell_by_cell(lambda cell: Catalogue().ids(v.parse_items(cell)), cells)
    has_error = any(outcome == "error" for outcome, _value in expected)
    for _pass in ("first", "again, now that the catalogue has seen these spellings"):
        result = catalogue.column_ids(cells)
        if has_error:
            assert result is None  # the caller then parses cell by cell and reports the error
        else:
            assert [("ok", value) for value in result] == expected
