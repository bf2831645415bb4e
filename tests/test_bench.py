"""Every benchmark still runs: each once, at its small size (BENCH_SMALL=1), on SQLite. The
figures are not judged; a benchmark that breaks is."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.slow
@pytest.mark.parametrize("script, args, says", [
    ("page.py", [], "page ratio 1,000,000 / 1,000 ="),
    ("export.py", [], "export memory 1,000,000 / 1,000 ="),
    ("search.py", [], "search 100,000 / 1,000 ="),
    ("pixel.py", [], "pixel / bare ="),
    ("pixel.py", ["--gunicorn"], "pixel / bare ="),
    ("mail_queue.py", [], "queue / smtplib, pre-built ="),
    ("bounces.py", [], "intake / parse only ="),
    ("webhooks.py", [], "deliver_due / plain sender ="),
    ("import.py", ["--no-memory"], "import / executemany"),
    ("strangers.py", [], "held / free ="),
    ("openbadges.py", [], "checked / database only ="),
    ("email_template.py", [], "template / ours ="),
    ("team.py", [], "issue with / before ="),
    ("dkim_signing.py", [], "signed / unsigned ="),
])
def test_the_benchmark_runs(script, args, says, tmp_path):
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=tmp_path,
                          env={**os.environ, "BENCH_SMALL": "1"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert says in done.stdout, done.stdout[-3000:]
