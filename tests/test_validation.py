"""Input rules shared by forms, API and imports."""

import unicodedata
from datetime import UTC, datetime, timedelta

import email_validator
import pytest

import validation
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


def test_control_pattern_is_the_unicode_categories():
    every = "".join(chr(n) for n in range(0x110000) if not 0xD800 <= n <= 0xDFFF)
    by_category = {ch for ch in every if unicodedata.category(ch) in {"Cc", "Zl", "Zp"}}
    assert set(validation.CONTROL.findall(every)) == by_category


# Plain addresses take the fast path (the domain checked once by email-validator); the
# rest the library's whole check: both must answer as the library alone does.
ADDRESSES = [
    "jane@example.com", "Jane.Doe+tag@Example.COM", "a@b.co", "x@localhost", "o'brien@test",
    "first.last@sub.domain.example.org", "user@xn--bcher-kva.example", "user@bücher.example",
    "jane@exa_mple.com", "jane@-example.com", "jane@example..com", "jane@example.com.",
    "jane@.example.com", "jane@example", "jane@123.123.123.123", "jane@[127.0.0.1]",
    ".jane@example.com", "jane.@example.com", "ja..ne@example.com", "jäne@example.com",
    '"jane doe"@example.com', "jane@@example.com", "@example.com", "jane@", "jane",
    "a" * 64 + "@example.com", "a" * 65 + "@example.com", "j@" + "a" * 63 + ".com",
    "j@" + "a" * 64 + ".com", "j@" + ".".join(["a" * 60] * 4) + ".com",
    "jane@example.invalid", "jane@foo.local", "jane@example.arpa", "user@ex ample.com",
    "user@xn--example.com", "user@EXAMPLE.com", "USER@example.com", "u{ser}@example.com",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_addresses_as_the_library_checks_them(address):
    try:
        expected = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError:
        with pytest.raises(InvalidInput):
            clean_email(address)
    else:
        assert clean_email(address) == expected.normalized
