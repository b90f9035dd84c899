"""Reading the tills' redemption file: what is refused before any line is judged."""

from __future__ import annotations

import pytest

from coupongen.errors import InputError
from coupongen.loop.redemption_file import read_redemptions, source_name


def test_reading_a_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_redemptions(tmp_path)


def test_a_file_is_named_by_its_name_and_content(tmp_path):
    first, again, changed = tmp_path / "a" / "pos.csv", tmp_path / "b" / "pos.csv", tmp_path / "pos.csv"
    for path, text in ((first, "code\nX\n"), (again, "code\nX\n"), (changed, "code\nY\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert source_name(first) == source_name(again)
    assert source_name(first).startswith("pos.csv#") and len(source_name(first)) == len("pos.csv#") + 16
    assert source_name(changed) != source_name(first)
