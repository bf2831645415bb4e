"""The CSV export's peak memory and time with 1,000,000 credentials against 1,000.

Each export runs in a fresh process that reads its peak resident memory (VmHWM) once the
last byte arrived: streamed, the export holds a batch of rows at a time, so its peak is
flat whatever the count; the target is under 150 MB for the whole process. The fills are
bench/page.py's (the million is kept between runs).
Run: .venv/bin/python bench/export.py [DATABASE_URL]   (default: SQLite)
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import sized  # noqa: E402
from bench.fill import EMAIL, open_site  # noqa: E402
from models import User, db  # noqa: E402

SIZES = sized((1_000, 1_000_000), (300, 2_000))
NAMES = ("1,000", "1,000,000")  # the full sizes' (the tests read these lines)
TARGET_MB = 150


def memory_mb(field):
    """This process's VmHWM (peak) or VmRSS (now), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def export(count, url, folder):
    """In this process: export the site's credentials; print what it cost as JSON."""
    site = open_site(count, url, folder, made=True)
    with site.app.app_context():  # logged in without the password hash's 32 MB (scrypt)
        session_id = db.session.scalar(sa.select(User).filter_by(email=EMAIL)).get_id()
    with site.client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = session_id, True
    before = memory_mb("VmRSS")
    start = time.perf_counter()
    response = site.client.get("/credentials/export.csv", buffered=False)
    lines = size = 0
    for chunk in response.iter_encoded():
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - start
    site.close()
    assert response.status_code == 200 and lines == count + 1, (response.status_code, lines)
    print(json.dumps({"rows": lines - 1, "mb": size / 1e6, "seconds": seconds,
                      "before": before, "peak": memory_mb("VmHWM")}))


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for count in SIZES:
            open_site(count, url, folder).close()
        for count in SIZES:
            done = subprocess.run([sys.executable, __file__, "--export", str(count), url or "",
                                   folder], capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr)
            found.append(json.loads(done.stdout.splitlines()[-1]))
    print("database:", (url or "sqlite").split(":")[0].split("+")[0],
          "sizes:", ", ".join(f"{count:,}" for count in SIZES))
    print(f"{'':28}{NAMES[0]:>12}{NAMES[1]:>12}")
    for key, label, unit in [("rows", "rows", ""), ("mb", "CSV size", "MB"),
                             ("seconds", "time", "s"), ("before", "memory before export", "MB"),
                             ("peak", "peak memory (VmHWM)", "MB")]:
        print(f"{label:28}" + "".join(f"{f[key]:>10.1f}{unit:2}" for f in found))
    small, large = found
    print(f"time per row {NAMES[1]} / {NAMES[0]} = "
          f"{large['seconds'] / large['rows'] / (small['seconds'] / small['rows']):.2f}")
    print(f"export memory {NAMES[1]} / {NAMES[0]} = {large['peak'] / small['peak']:.2f} "
          f"(peak {large['peak']:.0f} MB, target < {TARGET_MB} MB)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--export"]:
        export(int(sys.argv[2]), sys.argv[3] or None, sys.argv[4])
    else:
        main()
