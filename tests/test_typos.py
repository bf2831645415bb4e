"""Typo suggestions for address domains."""

import pytest

from typos import distance, suggest_address


@pytest.mark.parametrize("address, expected", [
    ("jane@gmial.com", "jane@gmail.com"),
    ("jane@hotmial.com", "jane@hotmail.com"),
    ("jane@yaho.com", "jane@yahoo.com"),
    ("jane@gmail.con", "jane@gmail.com"),
    ("jane@gmai.com", "jane@gmail.com"),
    ("jane@outlok.com", "jane@outlook.com"),
    ("jane@company.con", "jane@company.com"),
])
def test_typos_get_a_suggestion(address, expected):
    assert suggest_address(address) == expected


@pytest.mark.parametrize("address", [
    "jane@gmail.com", "jane@company.de", "jane@uni-heidelberg.de", "jane@example.com",
    "jane@nowhere.invalid", "jane@gmx.de", "jane@yahoo.co.uk", "jane@acme.co",
    "jane@sub.company.com", "jane@mit.edu", None, "", "no-at-sign",
])
def test_correct_addresses_get_none(address):
    assert suggest_address(address) is None


def test_distance_counts_a_swap_as_one_edit():
    assert distance("gmial", "gmail") == 1
    assert distance("gmail", "gmail") == 0
    assert distance("", "abc") == 3
    assert distance("kitten", "sitting") == 3
