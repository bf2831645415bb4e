"""The systemd units in deploy/systemd/ are the ones README shows, and run what DESIGN.md's
production setup says."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ["credential-tracker-web.service", "credential-tracker-worker@.service"]


def without_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


@pytest.mark.parametrize("name", UNITS)
def test_readme_shows_each_unit_as_it_is_in_deploy(name):
    readme = (ROOT / "README.md").read_text()
    shown = re.search(rf"`deploy/systemd/{re.escape(name)}`[^\n]*\n(?:[^\n]*\n)*?```ini\n"
                      r"(.*?)\n```", readme, re.S)
    assert shown, f"README does not show {name}"
    assert shown.group(1).strip() == without_comments((ROOT / "deploy/systemd" / name)
                                                      .read_text())


def test_the_units_run_gunicorn_without_the_scheduler_and_flask_workers():
    web = (ROOT / "deploy/systemd" / UNITS[0]).read_text()
    worker = (ROOT / "deploy/systemd" / UNITS[1]).read_text()
    assert ("ExecStart=/srv/credential-tracker/.venv/bin/gunicorn -w 4 -b 0.0.0.0:8000 "
            "'app:create_app()'") in web.splitlines()
    assert "Environment=SCHEDULER_ENABLED=0" in web.splitlines()
    assert ("ExecStart=/srv/credential-tracker/.venv/bin/flask --app app worker"
            in worker.splitlines())
    for unit in (web, worker):
        assert "EnvironmentFile=/etc/credential-tracker/env" in unit.splitlines()
    example = (ROOT / "deploy/systemd/credential-tracker.env.example").read_text()
    assert "SCHEDULER_ENABLED=0" in example.splitlines()  # the file would win over the unit
