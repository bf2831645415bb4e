"""Input rules shared by forms, API and imports."""

from datetime import UTC, datetime, timedelta

import pytest

from validation import InvalidInput, clean_action, clean_email, clean_future_time, clean_text

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("Jane Doe", "Jane Doe"),
    ("  Jane  ", "Jane"),
    ("x" * 200, "x" * 200),
    ("Zoë Ñúñez 李", "Zoë Ñúñez 李"),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # escaped on output
    ("Jane = Doe + 1", "Jane = Doe + 1"),  # formula characters only matter at the start
])
def test_names_accepted(value, expected):
    assert clean_text(value) == expected


@pytest.mark.parametrize("value, message", [
    ("", "required"),
    ("   ", "required"),
    (None, "must be text"),
    (42, "must be text"),
    ("x" * 201, "at most 200"),
    ("Jane\r\nBcc: victim@example.com", "line breaks"),
    ("Jane\nDoe", "line breaks"),
    ("Jane\x00", "control"),
    ("Jane\u2028Doe", "line breaks"),
    ("=HYPERLINK(\"http://evil.test\")", "must not start with =: spreadsheets would run it"),
    ("+1+cmd", "must not start with \\+"),
    ("  -2+3", "must not start with -"),
    ("@SUM(A1)", "must not start with @"),
])
def test_names_refused(value, message):
    with pytest.raises(InvalidInput, match=message):
        clean_text(value)


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("", None),
    ("  ", None),
    ("jane@example.com", "jane@example.com"),
    ("  jane@Example.COM ", "jane@example.com"),
    ("someone@nowhere.invalid", "someone@nowhere.invalid"),
    ("a@b.test", "a@b.test"),
    ("a@host.localhost", "a@host.localhost"),
    ("a@mail.example", "a@mail.example"),
])
def test_addresses_accepted(value, expected):
    assert clean_email(value) == expected


@pytest.mark.parametrize("value, message", [
    ("jane@gmial", "not a valid address"),
    ("jane", "not a valid address"),
    ("jane@@example.com", "not a valid address"),
    ("jane@example.com\r\nBcc: x@example.com", "line breaks"),
    ("jane\n@example.com", "line breaks"),
    ("a" * 250 + "@example.com", "at most 254"),
    (["jane@example.com"], "must be text"),
])
def test_addresses_refused(value, message):
    with pytest.raises(InvalidInput, match=message):
        clean_email(value)


def test_future_time_needs_offset_and_future():
    later = NOW + timedelta(hours=1)
    assert clean_future_time(later.isoformat(), NOW) == later
    assert clean_future_time("2026-11-26T14:00:00+01:00", NOW) == NOW + timedelta(hours=1)
    for bad, message in [("2026-11-26T14:00:00", "offset"), ("tomorrow", "ISO 8601"),
                         ((NOW - timedelta(seconds=1)).isoformat(), "future"),
                         (NOW.isoformat(), "future"), (None, "required"), (17, "required")]:
        with pytest.raises(InvalidInput, match=message):
            clean_future_time(bad, NOW)


def test_actions():
    assert [clean_action(a) for a in ("draft", "publish", "schedule")] == [
        "draft", "publish", "schedule"]
    for bad in ("send", "", None, "PUBLISH"):
        with pytest.raises(InvalidInput):
            clean_action(bad)
