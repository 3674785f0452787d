"""Parsing cell values as counties write them.

Every parser takes what a spreadsheet reader hands over (str, int, float, bool,
date, datetime or None) and returns a clean Python value, `None` for a blank
cell, or raises `ValueProblem` with a reason people can read. The parsers are
pure functions (no database), so property tests can hammer them.

What is accepted:
- text: trimmed, inner runs of whitespace kept, full-width spaces removed at the ends;
  a leading apostrophe that protected a formula-like value in a CSV export is dropped.
- whole numbers: `12`, `12.0`, `１２`, `1,234`, `1，234`, `12栋`, `12 户`.
- decimals: as whole numbers plus a fraction; `1.2万` means 12,000.
- years: `1995`, `1995年`, `1995.06`, `1995-06-01`, `1995/6/1`, `1995年6月`, an Excel date
  serial (e.g. 34851) or a date cell.
- yes/no: 是/否, Y/N, yes/no, true/false, 1/0, √/×, ✓/✗, 有/无, 对/错.
- percentages: `85%`, `85`, `0.85` (a number from 0 to 1 without a % sign is a fraction).
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _


class ValueProblem(ValueError):
    """A cell value that cannot be read; `reason` is for people."""

    def __init__(self, reason: str):
        self.reason = str(reason)
        super().__init__(self.reason)


MAX_TEXT = 500  # longer cells are refused (a name or an address is never this long)
BLANK_WORDS = frozenset({"", "-", "--", "—", "——", "/", "无数据", "n/a", "na", "null", "none", "#n/a"})

_FORMULA_GUARD = re.compile(r"^'(?=[=+\-@\t\r])")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_EDGE_SPACES = EDGE_SPACES = " \t\r\n\u3000\u00a0\ufeff\u200b"


# Full-width forms (U+FF01-U+FF5E) and the ideographic space to ASCII. Not NFKC: it also turns
# superscripts, circled digits and fractions into digits, so `1995²` would read as 19952.
_HALFWIDTH = ({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x00A0: 0x20, 0x202F: 0x20,
              0x205F: 0x20} | {code: 0x20 for code in range(0x2000, 0x200B)})  # and the spaces NFKC makes plain


def to_halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation to their ASCII forms, e.g. `１９９５` → `1995`."""
    if text.isascii():
        return text
    return text.translate(_HALFWIDTH)


def clean_text(value) -> str:
    """Any cell as trimmed text ('' for blank)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip(_EDGE_SPACES)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip(_EDGE_SPACES)


def is_blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip(_EDGE_SPACES).lower() in BLANK_WORDS
    if isinstance(value, float):
        return math.isnan(value)
    return False


def parse_text(value, *, max_length: int = MAX_TEXT) -> str | None:
    """Trimmed text or None. Refuses cells longer than `max_length` characters."""
    if value is None:
        return None
    text = clean_text(value)
    if not text:
        return None
    if len(text) > max_length:
        raise ValueProblem(_("too long: %(n)d characters, at most %(max)d") % {"n": len(text), "max": max_length})
    if text[0] == "'":
        text = _FORMULA_GUARD.sub("", text)
    if _CONTROL.search(text):
        raise ValueProblem(_("contains control characters"))
    return text


_NUMBER_UNITS = ("栋", "幢", "座", "户", "套", "层", "楼", "个", "处", "平方米", "平米", "㎡", "m²", "m2", "平", "元", "年")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


# Approximate counts as surveys write them (约300户, 300余户, 300多户, 300户左右): the number written is kept.
_APPROX_PREFIXES = ("大约", "约", "近")
_APPROX_SUFFIXES_WORDS = ("左右",)  # after the unit too: 300户左右
_APPROX_SUFFIXES_AFTER_NUMBER = ("余", "多")  # before the unit: 300余户, so after the unit is taken off


def _without_approximation(text: str) -> str:
    for prefix in _APPROX_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix):]
            break
    for suffix in _APPROX_SUFFIXES_WORDS:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _number_text(value) -> str:
    text = _without_approximation(to_halfwidth(clean_text(value)).replace(" ", ""))
    for unit in _NUMBER_UNITS:
        if text.endswith(unit) and len(text) > len(unit):
            text = text[: -len(unit)]
            break
    if text[-1:] in _APPROX_SUFFIXES_AFTER_NUMBER and len(text) > 1 and text[-2].isdigit():
        text = text[:-1]
    for sep in (",", "，", "'", "_"):
        if sep in text:
            parts = text.split(sep)
            # thousands separators: groups of exactly three digits after the first
            groups = [parts[0].lstrip("+-"), *(p.split(".")[0] for p in parts[1:])]
            if all(g.isascii() and g.isdigit() for g in groups) and all(len(g) == 3 for g in groups[1:]):
                text = "".join(parts)
            else:
                raise ValueProblem(_("not a number"))
    return text


_DECIMAL_LIMIT = Decimal(10) ** 15
_FLOAT_LIMIT = 1e15
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in range(0, 10)}


def parse_decimal(value, *, min_value=None, max_value=None, places: int = 2) -> Decimal | None:
    """A decimal number rounded to `places`, or None for a blank cell."""
    if type(value) is float and -_FLOAT_LIMIT < value < _FLOAT_LIMIT:
        # the common case, a number cell: as below, without the checks a finite float never needs
        number = Decimal(repr(value)).quantize(_QUANTUM[places]) if places in _QUANTUM else None
        if number is not None:
            _check_range(number, min_value, max_value)
            return number
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(_("not a number"))
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueProblem(_("not a number"))
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        raise ValueProblem(_("a date where a number is expected"))
    else:
        text = _number_text(value)
        factor = 1
        if text.endswith("万") and len(text) > 1:
            text, factor = text[:-1], 10000
        if not _NUMBER.match(text):
            raise ValueProblem(_("not a number"))
        try:
            number = Decimal(text) * factor
        except InvalidOperation:
            raise ValueProblem(_("not a number")) from None
    if not number.is_finite() or abs(number) >= _DECIMAL_LIMIT:
        raise ValueProblem(_("not a number"))
    number = number.quantize(_QUANTUM.get(places) or Decimal(1).scaleb(-places))
    _check_range(number, min_value, max_value)
    return number


def parse_int(value, *, min_value: int | None = None, max_value: int | None = None) -> int | None:
    """A whole number, or None for a blank cell. `12.0` is 12; `12.5` is refused."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem(_("not a whole number"))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueProblem(_("not a whole number"))
        number = int(value)
    else:
        decimal = parse_decimal(value, places=6)
        if decimal is None:
            return None
        if decimal != decimal.to_integral_value():
            raise ValueProblem(_("not a whole number"))
        number = int(decimal)
    _check_range(number, min_value, max_value)
    return number


def int_between(min_value: int | None, max_value: int | None):
    """`parse_int` with these bounds, as one-argument parser."""
    return lambda value: parse_int(value, min_value=min_value, max_value=max_value)


def text_upto(max_length: int):
    """`parse_text` with this length limit, as one-argument parser."""
    return lambda value: parse_text(value, max_length=max_length)


def _check_range(number, min_value, max_value) -> None:
    if min_value is not None and number < min_value:
        raise ValueProblem(_("must be at least %(min)s") % {"min": min_value})
    if max_value is not None and number > max_value:
        raise ValueProblem(_("must be at most %(max)s") % {"max": max_value})


EXCEL_EPOCH = datetime.date(1899, 12, 30)
MIN_YEAR = 1900
_YEAR_TEXT = re.compile(
    r"^(?P<y>\d{4})\s*(?:年代|年建成|年建)?\s*"
    r"(?:(?:年|[-./])\s*(?P<m>\d{1,2})\s*月?\s*(?:(?:[-./]\s*)?(?P<d>\d{1,2})\s*[日号]?)?)?\s*年?\s*$"
)


_YEAR_RANGE = re.compile(r"^\d{4}\s*年?\s*(?:-|—|–|~|～|至|到)\s*\d{4}\s*年?$")


def max_year() -> int:
    return datetime.date.today().year


def parse_year(value, *, min_year: int = MIN_YEAR, max_year_value: int | None = None) -> int | None:
    """A built year from `1995`, `1995年`, `1995.06`, `1995-06-01`, an Excel date serial or a date cell."""
    if is_blank(value):
        return None
    top = max_year_value if max_year_value is not None else max_year()
    year: int | None = None
    if isinstance(value, bool):
        raise ValueProblem(_("not a year"))
    if isinstance(value, datetime.datetime | datetime.date):
        year = value.year
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueProblem(_("not a year"))
        if min_year <= value < top + 1:
            # 1995 or 1995.06 (year.month written as a number)
            year = int(value)
        elif value >= 1 and float(value).is_integer() and value < 2958466:
            # an Excel date serial (days since 1899-12-30)
            year = (EXCEL_EPOCH + datetime.timedelta(days=int(value))).year
        else:
            raise ValueProblem(_("not a year"))
    elif isinstance(value, datetime.time | datetime.timedelta):
        raise ValueProblem(_("not a year"))
    else:
        text = _without_approximation(to_halfwidth(clean_text(value)).strip())
        if _YEAR_RANGE.match(text):
            raise ValueProblem(_("a range of years: give the year the estate was completed"))
        match = _YEAR_TEXT.match(text)
        if match:
            year = int(match["y"])
            month, day = match["m"], match["d"]
            if month is not None and not 1 <= int(month) <= 12:
                raise ValueProblem(_("not a date: month %(m)s") % {"m": month})
            if day is not None:
                try:
                    datetime.date(year, int(month), int(day))
                except ValueError:
                    raise ValueProblem(_("not a date")) from None
        elif text.isascii() and text.isdigit() and 4 < len(text) <= 7:
            return parse_year(int(text), min_year=min_year, max_year_value=top)
        else:
            raise ValueProblem(_("not a year"))
    if not min_year <= year <= top:
        raise ValueProblem(_("the year must be from %(min)d to %(max)d") % {"min": min_year, "max": top})
    return year


TRUE_WORDS = frozenset({"是", "y", "yes", "true", "t", "1", "√", "✓", "✔", "有", "对", "是的", "已", "已纳入", "○", "●"})
FALSE_WORDS = frozenset({"否", "n", "no", "false", "f", "0", "×", "✗", "✘", "x", "无", "没有", "错", "不是", "未纳入",
                         "未"})


def parse_bool(value) -> bool | None:
    """Yes or no, as 是/否, Y/N, √/×, 有/无, true/false or 1/0; None for a blank cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value == 1:
            return True
        if value == 0:
            return False
        raise ValueProblem(_("expected yes or no (是/否)"))
    text = to_halfwidth(clean_text(value)).lower()
    if text == "":
        return None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueProblem(_("expected yes or no (是/否)"))


def parse_percent(value) -> Decimal | None:
    """A percentage 0-100 (two decimal places) from `85%`, `85`, `0.85`.

    Without a % sign a number from 0 to 1 is a fraction (so `1` is 100%, as in a percent-formatted
    Excel cell); above 1 it is already a percentage.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueProblem(_("not a percentage"))
    has_sign = False
    if isinstance(value, str):
        text = to_halfwidth(value).strip(_EDGE_SPACES)
        if text.endswith("%"):
            has_sign, text = True, text[:-1].strip(_EDGE_SPACES)
        value = text
    try:
        number = parse_decimal(value, places=6)
    except ValueProblem:
        raise ValueProblem(_("not a percentage")) from None
    if number is None:
        raise ValueProblem(_("not a percentage"))
    if not has_sign and 0 <= number <= 1:
        number *= 100
    percent = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if not 0 <= percent <= 100:
        raise ValueProblem(_("a percentage must be from 0 to 100"))
    return percent


def parse_choice(value, choices: dict[str, str], allowed: tuple[str, ...] = ()) -> str | None:
    """One of a closed list. `choices` maps every accepted spelling (already normalised with
    `choice_key`) to the stored value; `allowed`, the spellings the template offers, are named in the
    error so that the sheet can be fixed without looking them up."""
    if is_blank(value):
        return None
    key = choice_key(clean_text(value))
    if key in choices:
        return choices[key]
    if allowed:
        raise ValueProblem(_("not one of the allowed values: %(allowed)s") % {"allowed": "、".join(allowed)})
    raise ValueProblem(_("not one of the allowed values"))


def choice_key(text: str) -> str:
    return _SPACES.sub("", to_halfwidth(text)).lower()


ITEM_SEPARATORS = re.compile(r"[、，,;；/\n\r|]+")


def parse_items(value) -> list[str]:
    """A list from `a、b，c;d` (also full-width separators and new lines); blanks dropped, order and
    first occurrence kept."""
    if is_blank(value):
        return []
    text = clean_text(value)
    seen: dict[str, None] = {}
    for part in ITEM_SEPARATORS.split(text):
        part = part.strip(_EDGE_SPACES)
        if part:
            seen.setdefault(part, None)
    return list(seen)


def parse_coordinate(value, *, min_value: float, max_value: float) -> Decimal | None:
    """A longitude or latitude in decimal degrees (six places)."""
    number = parse_decimal(value, places=6)
    if number is None:
        return None
    if not min_value <= number <= max_value:
        raise ValueProblem(_("must be from %(min)s to %(max)s") % {"min": min_value, "max": max_value})
    return number


def region_ref(value) -> tuple[str, str] | None:
    """A region written as a code (digits) or a name: ("code", "330106") or ("name", "西湖区")."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _SPACES.sub("", to_halfwidth(clean_text(value)))
    if not text:
        return None
    if text.isdigit():
        if len(text) not in (6, 9, 12) or not text.isascii():
            raise ValueProblem(_("a region code has 6, 9 or 12 digits"))
        return ("code", text)
    if len(text) > 64:
        raise ValueProblem(_("too long for a region name"))
    return ("name", text)


# ---------------------------------------------------------------------------------------------
# whole columns at once: the common clean cases of the two kinds of column that hardly repeat a
# value (names and addresses; areas and coordinates). Each returns None when the column is not in
# its common case, and the caller then parses cell by cell; a property test holds the results
# equal to the cell parsers'.


def text_column(column: list, *, max_length: int = MAX_TEXT) -> list | None:
    """`parse_text` of every cell, when every cell is a str that needs no more than trimming."""
    if set(map(type, column)) != {str}:
        return None
    stripped = [cell.strip(_EDGE_SPACES) for cell in column]
    if max(map(len, stripped), default=0) > max_length:
        return None
    joined = "\n".join(stripped)
    if _CONTROL.search(joined) or joined.startswith("'") or "\n'" in joined:
        return None
    return [text or None for text in stripped]


def decimal_column(column: list, *, places: int, min_value=None, max_value=None) -> list | None:
    """`parse_decimal` of every cell, when every cell is a finite number cell (float) within bounds."""
    if places not in _QUANTUM or set(map(type, column)) != {float}:
        return None
    if not math.isfinite(sum(column)):  # a NaN or an infinity somewhere
        return None
    if column and not (-_FLOAT_LIMIT < min(column) and max(column) < _FLOAT_LIMIT):
        return None
    quantum = _QUANTUM[places]
    values = [Decimal(repr(cell)).quantize(quantum) for cell in column]
    if values and ((min_value is not None and min(values) < min_value)
                   or (max_value is not None and max(values) > max_value)):
        return None
    return values
