"""What the benchmarks share: a free port for the servers they start, and the small size
the tests run each of them at (BENCH_SMALL=1: a benchmark that no longer runs fails a
test, whatever its figures)."""

import os
import socket

SMALL = os.environ.get("BENCH_SMALL") == "1"


def sized(full, small):
    """The full size of a measurement, or the small one when the tests run it."""
    return small if SMALL else full


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
