"""What the benchmarks share: a free port for the servers they start, an issuer with
credentials, and the small size the tests run each of them at (BENCH_SMALL=1: a benchmark
that no longer runs fails a test, whatever its figures)."""

import os
import socket
import statistics
import time

import issuing
from accounts import create_user
from models import db

SMALL = os.environ.get("BENCH_SMALL") == "1"


def sized(full, small):
    """The full size of a measurement, or the small one when the tests run it."""
    return small if SMALL else full


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def issuer_with_credentials(count, org_name="Bench"):
    """In the app's context: an issuer whose organization published count credentials of
    one group, each with its email queued; returns the issuer."""
    user = create_user("bench@example.com", org_name, "bench-password")
    issuing.issue_new(db.session.connection(), user.org_id, user.id, [
        issuing.NewCredential(f"Recipient {n}", f"r{n}@example.com", "Benchmarks 101",
                              "publish") for n in range(count)])
    db.session.commit()
    return user


def alternating_medians(calls, sites, rounds):
    """{key: [median ms per site]} of calls {key: call(site)}, the sites alternating within
    each round so that the machine's load falls on all of them."""
    found = {}
    for key, call in calls.items():
        times = [[] for _ in sites]
        for site in sites:
            call(site)  # warm caches and templates
        for _ in range(rounds):
            for n, site in enumerate(sites):
                start = time.perf_counter()
                call(site)
                times[n].append(time.perf_counter() - start)
        found[key] = [statistics.median(t) * 1000 for t in times]
    return found
