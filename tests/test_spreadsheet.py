import pytest

from autograder.spreadsheet import Column, clean_text, column_width, csv_safe, wrapped_lines


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1",
                                  '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0"])
def test_csv_formulas_are_neutralised(text):
    safe = csv_safe(text)
    assert safe.startswith("'") and safe[1:] == clean_text(text)


def test_csv_numbers_and_plain_text_stay():
    assert csv_safe(-0.2) == -0.2 and csv_safe(3) == 3 and csv_safe(None) is None
    assert csv_safe("Léa") == "Léa" and csv_safe("a=b") == "a=b" and csv_safe("#N/A") == "#N/A"


def test_clean_text_removes_what_breaks_a_workbook():
    assert clean_text("a\x00b\x01c\x1fd\x7fe\x85f\ud800g\ufffeh\uffff") == "abcdefgh"
    assert clean_text("one\r\ntwo\tthree") == "one\ntwo\tthree"
    long = clean_text("x" * 5000)
    assert len(long) == 2000 and long.endswith("…")


def test_widths_fit_words_and_wrapped_lines_are_not_underestimated():
    column = Column("k", "hw1_features\n4. Gradient descent, predictions, accuracy (part 1)\n/3")
    width = column_width(column, [{"k": 2.5}])
    assert width >= len("predictions,") * 1.2
    # the header wraps on a few lines, each no wider than the column
    assert 3 <= wrapped_lines(column.label, width) <= 8
    assert wrapped_lines("a " * 100, 22) >= 200 / 20
    assert wrapped_lines("x" * 100, 12) >= 10  # a word longer than the column breaks
