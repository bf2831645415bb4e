"""The one retry-delay rule every queue waits by."""

from datetime import timedelta

import pytest

from models.lease import retry_delay

HOUR = timedelta(hours=1)


@pytest.mark.parametrize("attempts, hint, expected", [
    (1, None, 30), (2, None, 60), (4, None, 240),  # the base, doubling with each try
    (2, 45, 45), (9, 7, 7),  # the other side said when
    (20, None, 3600), (1, 86_400, 3600),  # never longer than the longest
])
def test_the_wait_doubles_takes_a_hint_and_has_a_ceiling(attempts, hint, expected):
    assert retry_delay(attempts, 30, HOUR, hint) == timedelta(seconds=expected)
