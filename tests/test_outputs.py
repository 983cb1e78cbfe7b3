"""Output-location checks: an existing JSON file may be replaced; a file as a folder may not."""

from __future__ import annotations

import pytest

from quadfree.errors import QuadfreeError
from quadfree.outputs import check_output_file


def test_an_existing_output_file_can_be_replaced_but_a_file_is_no_folder(tmp_path):
    old = tmp_path / "bench.json"
    old.write_text("{}")
    assert check_output_file(old, "json") == old            # `bench … --json EXISTING` works
    with pytest.raises(QuadfreeError, match="is a file, not a folder"):
        check_output_file(old / "inner.json", "json")
    with pytest.raises(QuadfreeError, match="is a folder"):
        check_output_file(tmp_path, "json")
