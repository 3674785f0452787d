"""Property tests for every value parser: what counties write reads back as the value meant,
and no input makes a parser fail with anything but a ValueProblem."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from gaizao.estates.census import values as v

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ANY_CELL = st.one_of(
    st.none(), st.text(max_size=40), st.integers(min_value=-10**12, max_value=10**12), st.floats(allow_nan=True),
    st.booleans(), st.dates(), st.datetimes(), st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.sampled_from(["", " ", "　", "-", "是", "1995年", "85%", "１２", "1,234", "=1+1", "'=A1", "\x00", "∞"]),
)
PARSERS = [
    v.parse_text, v.parse_int, v.parse_decimal, v.parse_year, v.parse_bool, v.parse_percent, v.parse_items,
    v.region_ref, lambda x: v.parse_choice(x, {"房改房": "reformed_public"}),
    lambda x: v.parse_coordinate(x, min_value=73, max_value=136),
]
fast = settings(max_examples=150, deadline=None)


@fast
@given(ANY_CELL)
def test_parsers_only_ever_raise_value_problems(cell):
    for parse in PARSERS:
        try:
            parse(cell)
        except v.ValueProblem as exc:
            assert exc.reason


def _spellings_of_int(n: int) -> list:
    s = str(n)
    grouped = f"{n:,}"
    return [n, float(n), s, f" {s} ", s.translate(FULLWIDTH), grouped, grouped.replace(",", "，"), f"{s}栋",
            f"{s} 户", f"{s}.0"]


@fast
@given(st.integers(min_value=0, max_value=10**9))
def test_whole_numbers_as_written(n):
    for spelling in _spellings_of_int(n):
        assert v.parse_int(spelling) == n, spelling


@fast
@given(st.floats(min_value=0.5, max_value=1e6).filter(lambda x: not float(x).is_integer()))
def test_a_fraction_is_not_a_whole_number(x):
    if round(x, 6) != int(round(x, 6)):
        with pytest.raises(v.ValueProblem):
            v.parse_int(round(x, 6))


@fast
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_decimals_as_written(whole, cents):
    expected = Decimal(f"{whole}.{cents:02d}")
    for spelling in (f"{whole}.{cents:02d}", f"{whole:,}.{cents:02d}", f"{whole}.{cents:02d}".translate(FULLWIDTH),
                     f"{whole}.{cents:02d}㎡", float(expected) if whole < 10**6 else str(expected)):
        assert v.parse_decimal(spelling) == expected, spelling


def test_ten_thousands():
    assert v.parse_decimal("1.2万") == Decimal("12000.00")


@fast
@given(st.integers(min_value=1900, max_value=datetime.date.today().year), st.integers(1, 12), st.integers(1, 28))
def test_years_as_counties_write_them(year, month, day):
    date = datetime.date(year, month, day)
    serial = (date - datetime.date(1899, 12, 30)).days
    # a serial from 1900 to this year reads as that year (dates of 1905-1907 are written as dates)
    serials = (serial, float(serial)) if serial > datetime.date.today().year else ()
    for spelling in (year, float(year), str(year), f"{year}年", f"{year}.{month:02d}", f"{year}-{month:02d}-{day:02d}",
                     f"{year}/{month}/{day}", f"{year}年{month}月", f"{year}年{month}月{day}日", *serials,
                     date, datetime.datetime(year, month, day, 8, 30), str(year).translate(FULLWIDTH), f" {year} "):
        assert v.parse_year(spelling) == year, spelling


@fast
@given(st.integers(min_value=datetime.date.today().year + 1, max_value=9999))
def test_future_years_are_refused(year):
    with pytest.raises(v.ValueProblem):
        v.parse_year(str(year))


@pytest.mark.parametrize("text", ["19x5", "95", "1995-13-01", "1995-02-30", "明年", "1800", "一九九五"])
def test_not_years(text):
    with pytest.raises(v.ValueProblem):
        v.parse_year(text)


YES = ["是", "Y", "y", "yes", "YES", "true", "1", "√", "✓", "有", "ｙ"]
NO = ["否", "N", "n", "no", "false", "0", "×", "✗", "无", "Ｎ"]


@fast
@given(st.sampled_from(YES + NO), st.sampled_from(["", " ", "　", "\t"]), st.sampled_from(["", " ", "　"]))
def test_yes_and_no(word, before, after):
    assert v.parse_bool(before + word + after) is (word in YES)


def test_yes_no_cells_and_blank():
    assert v.parse_bool(True) is True and v.parse_bool(0.0) is False and v.parse_bool(" ") is None
    with pytest.raises(v.ValueProblem):
        v.parse_bool("也许")


@fast
@given(st.integers(min_value=0, max_value=10000))
def test_percentages(hundredths):
    pct = Decimal(hundredths) / 100
    spellings = [f"{pct}%", f"{pct}％", f"{pct} %", str(pct / 100) if pct <= 1 else None, float(pct / 100)]
    if pct > 1:
        spellings += [str(pct), float(pct)]
    for spelling in spellings:
        if spelling is None:
            continue
        assert v.parse_percent(spelling) == pct.quantize(Decimal("0.01")), spelling


def test_percentage_bounds():
    for bad in ("120%", "101", "-5%", "abc%", "%"):
        with pytest.raises(v.ValueProblem):
            v.parse_percent(bad)
    assert v.parse_percent("1") == 100 and v.parse_percent("0") == 0 and v.parse_percent("") is None


ITEM = st.text(alphabet=st.characters(whitelist_categories=("Lo", "Lu", "Ll", "Nd")), min_size=1, max_size=8).filter(
    lambda s: s.lower() not in v.BLANK_WORDS)


@fast
@given(st.lists(ITEM, min_size=0, max_size=6, unique=True), st.sampled_from(["、", "，", ",", ";", "；", "\n", " 、 "]))
def test_items(items, separator):
    assert v.parse_items(separator.join(items)) == items


@fast
@given(st.text(max_size=200))
def test_text_is_trimmed_and_kept(text):
    try:
        parsed = v.parse_text(text)
    except v.ValueProblem:
        return
    if parsed is not None:
        assert parsed == parsed.strip(" \t\r\n\u3000\u00a0\ufeff\u200b") and parsed in text or parsed.startswith("=")


def test_text_limits_and_formula_guard():
    with pytest.raises(v.ValueProblem):
        v.parse_text("长" * 600)
    assert v.parse_text("'=SUM(A1)") == "=SUM(A1)"
    assert v.parse_text("'hello") == "'hello"
    with pytest.raises(v.ValueProblem):
        v.parse_text("a\x00b")


@fast
@given(st.sampled_from(["330106", "330106004", "330106004053"]), st.sampled_from(["", " ", "　"]))
def test_region_codes_and_names(code, pad):
    assert v.region_ref(pad + code + pad) == ("code", code)
    assert v.region_ref(float(code)) == ("code", code)
    assert v.region_ref(f"{pad}西 湖区{pad}") == ("name", "西湖区")
    with pytest.raises(v.ValueProblem):
        v.region_ref("12345")


@fast
@given(st.decimals(min_value=73, max_value=136, places=6))
def test_coordinates(value):
    assert v.parse_coordinate(str(value), min_value=73, max_value=136) == value
    with pytest.raises(v.ValueProblem):
        v.parse_coordinate(str(value + 100), min_value=73, max_value=136)


def test_choice_with_spaces_and_fullwidth():
    choices = {"房改房": "reformed_public", "abc": "x"}
    assert v.parse_choice(" 房 改房 ", choices) == "reformed_public"
    assert v.parse_choice("ＡＢＣ", choices) == "x"
    with pytest.raises(v.ValueProblem):
        v.parse_choice("别墅", choices)


# Digits that are not digits of a number: superscripts, subscripts, circled and parenthesised numbers,
# fractions. NFKC would turn `1995²` into 19952 (read as an Excel date in 1954) and `①` into 1.
NOT_DIGITS = "²³¹⁰⁴⁵⁹₀₁₂①②⑩⑴⒈½¼"


@fast
@given(st.integers(min_value=1950, max_value=2020), st.sampled_from(NOT_DIGITS), st.booleans())
def test_stray_superscripts_and_circled_digits_are_not_read_as_digits(year, mark, before):
    text = f"{mark}{year}" if before else f"{year}{mark}"
    numeric = [lambda x: v.parse_year(x, min_year=1900), v.parse_int, v.parse_decimal, v.parse_percent,
               lambda x: v.parse_coordinate(x, min_value=73, max_value=136)]
    for parse in numeric:
        with pytest.raises(v.ValueProblem):
            parse(text)
    with pytest.raises(v.ValueProblem):
        v.parse_int(mark)
    try:
        ref = v.region_ref(f"33010{mark}")
    except v.ValueProblem:
        ref = None
    assert ref is None or ref[0] == "name"


@pytest.mark.parametrize(("text", "expected"), [
    ("1,234.56平方米", Decimal("1234.56")), ("1,234.5㎡", Decimal("1234.50")), ("2,000.00平米", Decimal("2000.00")),
    ("1,234.5 m²", Decimal("1234.50")), ("1,234户", Decimal("1234.00")), ("12\xa0栋", Decimal("12.00")),
    ("1\xa0234", Decimal("1234.00")), ("1\u202f234.5", Decimal("1234.50")), ("1\u2009234", Decimal("1234.00")),
])
def test_grouped_numbers_with_units_and_web_spaces(text, expected):
    """Thousands separators together with a unit, and the no-break and thin spaces that text copied from a web
    page brings into Excel."""
    assert v.parse_decimal(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("约300户", 300), ("300余户", 300), ("300多户", 300), ("300户左右", 300), ("大约 1,200 户", 1200), ("近50栋", 50),
])
def test_approximate_counts_keep_the_number_written(text, expected):
    assert v.parse_int(text, min_value=0) == expected


@pytest.mark.parametrize("text", ["约", "多", "余", "1多2", "约-"])
def test_approximation_words_alone_are_not_numbers(text):
    with pytest.raises(v.ValueProblem):
        v.parse_int(text)


@pytest.mark.parametrize(("text", "expected"), [("约1995年", 1995), ("1995年左右", 1995), ("约1988.06", 1988)])
def test_approximate_years(text, expected):
    assert v.parse_year(text) == expected


@pytest.mark.parametrize("text", ["2001-2003", "2001年至2003年", "1995～1998", "1995 到 1998年"])
def test_a_range_of_years_is_refused_with_its_own_reason(text):
    with translation.override("en"), pytest.raises(v.ValueProblem) as exc:
        v.parse_year(text)
    assert "range of years" in str(exc.value.reason)
