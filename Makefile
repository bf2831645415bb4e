# make run: set up and serve on http://127.0.0.1:5000. make test: set up and run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app

.PHONY: run test lint bench chromium translations oidc-mock dev-dns

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Development: mail is caught locally (shown at /outbox) unless MAIL_SERVER is set.
run: export DEV_MAIL_CATCHER = 1
run: $(VENV)/.installed translations
	$(FLASK) db upgrade
	$(FLASK) demo
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-1} $(FLASK) run --host 127.0.0.1 --port 5000

# A development DNS server for sender domains (run make run with DNS_RESOLVER=127.0.0.1:5353):
# it serves the TXT records of instance/dns-records.json, read again for each query.
dev-dns: export DEV_MAIL_CATCHER = 1
dev-dns: $(VENV)/.installed
	$(FLASK) dev-dns

# In parallel, a worker per core (pytest-xdist; each has its own PostgreSQL database).
test: $(VENV)/.installed chromium translations oidc-mock
	$(BIN)/python -m pytest -n auto --dist worksteal

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python bench/page.py

# The recipients' languages: translations/*/messages.po compiled for Flask-Babel.
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d translations

chromium:
	@sh scripts/ensure-chromium.sh

# The OpenID Connect provider the single sign-on tests start (it needs Python 3.12+, in a
# venv of its own); without such a Python the SSO tests skip, saying how to enable them.
oidc-mock:
	@sh scripts/ensure-oidc-mock.sh
