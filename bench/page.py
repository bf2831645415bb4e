"""The Credentials page, its filters, the API list and Analytics with 1,000, 100,000 and
1,000,000 credentials in the database.

Prints the median server time of each case at each size and the ratios to 1,000; the
target is a ratio under 2: a page costs what it shows, not what the database holds.
The 1,000,000 fill takes minutes, so it is made once and kept (bench/fill.py): a SQLite
file under $BENCH_CACHE (default ~/.cache/credential-bench/), or a schema of the
PostgreSQL database bench_million on the server the URL names.
Run: .venv/bin/python bench/page.py [POSTGRESQL_URL]   (default: SQLite)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import sized  # noqa: E402
from bench.fill import measured  # noqa: E402
from models.status import EmailStatus  # noqa: E402
from views.queries import ENGAGEMENT, status_counts  # noqa: E402

SIZES = sized((1_000, 100_000, 1_000_000), (300, 1_000, 2_000))
NAMES = ("1,000", "100,000", "1,000,000")  # the full sizes' (the tests read these lines)
ROUNDS = sized(15, 2)
PER_PAGE = 50


def page(path, **headers):
    """A call that fetches a page of the Credentials list and checks it has rows."""
    def call(site):
        response = site.client.get(path, headers=headers)
        assert response.status_code == 200 and b"data-email-status" in response.data, path
    return call


def api(path):
    def call(site):
        response = site.client.get(path, headers=site.api_headers)
        assert response.status_code == 200 and response.json["items"], path
    return call


def half_way(site):
    """The page number half way through the list (a deep OFFSET without a cursor)."""
    return max(1, site.count // PER_PAGE // 2)


def analytics(site):
    response = site.client.get("/analytics")
    assert response.status_code == 200 and b"<svg" in response.data


def counts(site):
    with site.app.app_context():
        status_counts(site.org_id)


def cases():
    """(key, label, call) for every measured case."""
    yield "page", "Credentials page", page("/credentials")
    for status in EmailStatus:
        yield f"status {status.value}", f"status {status.value}", page(
            f"/credentials?status={status.value}")
    for name in ENGAGEMENT:
        yield f"engaged {name}", f"engaged {name}", page(f"/credentials?engaged={name}")
    yield "revoked", "revoked only", page("/credentials?revoked=1")
    yield "fragment", "htmx page 3", page("/credentials?page=3", **{"HX-Request": "true"})
    yield "deep", "htmx page half way", lambda site: page(
        f"/credentials?page={half_way(site)}", **{"HX-Request": "true"})(site)
    yield "counts", "counts per status", counts
    yield "search", "text search (scans)", page("/credentials?q=Recipient%2099")
    yield "analytics", "Analytics page", analytics
    yield "api", "API list, page 1", api("/api/v1/credentials")
    yield "api status", "API list, bounced", api("/api/v1/credentials?email_status=bounced")
    yield "api deep", "API list, half way", lambda site: api(
        f"/api/v1/credentials?page={half_way(site)}")(site)
    yield "api cursor", "API list, cursor half way", lambda site: api(  # the fill's ids: 1…
        f"/api/v1/credentials?cursor={site.count // 2}")(site)


def main():
    database, found = measured({key: call for key, _, call in cases()}, SIZES, ROUNDS)
    print("database:", database,
          "sizes:", ", ".join(f"{count:,}" for count in SIZES))
    names = NAMES
    print(f"{'':24}" + "".join(f"{name:>12}" for name in names)
          + f"{names[1] + '/' + names[0]:>16}{names[2] + '/' + names[0]:>18}")
    for key, label, _ in cases():
        ms = found[key]
        print(f"{label:24}" + "".join(f"{t:>10.2f}ms" for t in ms)
              + f"{ms[1] / ms[0]:>16.2f}{ms[2] / ms[0]:>18.2f}")
    for key, label in [("page", "page"), ("analytics", "Analytics"), ("api", "API list")]:
        for n in (1, 2):
            ratio = found[key][n] / found[key][0]
            print(f"{label} ratio {names[n]} / {names[0]} = {ratio:.2f} (target < 2)")
    worst = max((k for k in found if k != "search"), key=lambda k: found[k][2] / found[k][0])
    print(f"worst ratio {names[2]} / {names[0]} = {found[worst][2] / found[worst][0]:.2f} "
          f"({worst}; search is another benchmark's)")


if __name__ == "__main__":
    main()
