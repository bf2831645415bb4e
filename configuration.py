"""The settings: read from the environment once at start, checked, and refused with a
message that says what to write instead (the README's table lists them)."""

import os
import secrets
from pathlib import Path

import limits

import validation
from mailer import pace, sender_domains, signing


class ConfigError(RuntimeError):
    """A setting the app cannot start with; the message says what to write instead."""


def _flag(name, default):
    """Read a 1/0 (true/false, yes/no) environment variable."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(instance_path):
    """DATABASE_URL, with PostgreSQL URLs pointed at the psycopg 3 driver."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'tracker.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(instance_path):
    """SECRET_KEY, else one generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        # Written whole to a private file, then linked into place: processes starting
        # together (gunicorn's workers) all end up with the one key that got there first.
        spare = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return path.read_text().strip()


def config_from_env(instance_path):
    """The settings of DESIGN.md's outside contract, read from the environment."""
    env = os.environ.get
    mail_server = env("MAIL_SERVER") or None
    import_max_bytes = int(env("IMPORT_MAX_BYTES") or 20 << 20)
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # A connection PostgreSQL dropped (a restart) is replaced, not handed to a request.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAIL_SERVER": mail_server,
        "DEV_MAIL_CATCHER": _flag("DEV_MAIL_CATCHER", False),
        "MAIL_PORT": int(env("MAIL_PORT") or (25 if mail_server else 1025)),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL", False),
        "MAIL_USERNAME": env("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env("MAIL_DEFAULT_SENDER") or "credentials@tracker.localhost",
        "MAIL_SUPPRESS_SEND": False,  # Flask-Mail suppresses under TESTING; we never do
        "PUBLIC_BASE_URL": (env("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "SCHEDULER_ENABLED": _flag("SCHEDULER_ENABLED", False),
        "QUEUE_INTERVAL_SECONDS": float(env("QUEUE_INTERVAL_SECONDS") or 5),
        "RETRY_BASE_SECONDS": float(env("RETRY_BASE_SECONDS") or 30),
        "MAX_ATTEMPTS": int(env("MAX_ATTEMPTS") or 6),
        # How long mail that never reached the server may wait before it bounces.
        "MAX_QUEUE_AGE": env("MAX_QUEUE_AGE") or "3 days",
        # Sending at production speed (DESIGN.md).
        "SMTP_CONCURRENCY": int(env("SMTP_CONCURRENCY") or 8),
        "MAIL_RATE_LIMIT": env("MAIL_RATE_LIMIT") or None,
        "LEASE_SECONDS": float(env("LEASE_SECONDS") or 60),
        # Not in DESIGN.md's list, for operators and tests (BATCH_SIZE: the messages a
        # connection claims at a time).
        "BATCH_SIZE": int(env("BATCH_SIZE") or 20),
        "SMTP_TIMEOUT_SECONDS": float(env("SMTP_TIMEOUT_SECONDS") or 30),
        "STATUS_POLL_SECONDS": float(env("STATUS_POLL_SECONDS") or 2),
        "BLOCKED_DOMAIN_THRESHOLD": int(env("BLOCKED_DOMAIN_THRESHOLD") or 3),
        "PER_PAGE": 50,
        "IMPORT_FOLDER": env("IMPORT_FOLDER") or str(Path(instance_path) / "imports"),
        "IMPORT_MAX_BYTES": import_max_bytes,
        "IMPORT_MAX_ROWS": int(env("IMPORT_MAX_ROWS") or 100_000),
        # Bounces that arrive later (DESIGN.md): VERP, the bounce mailbox, webhooks.
        "BOUNCE_ADDRESS": env("BOUNCE_ADDRESS") or None,
        "BOUNCE_IMAP_HOST": env("BOUNCE_IMAP_HOST") or None,
        "BOUNCE_IMAP_SECURITY": (env("BOUNCE_IMAP_SECURITY") or "ssl").lower(),
        "BOUNCE_IMAP_PORT": int(env("BOUNCE_IMAP_PORT") or 0) or None,
        "BOUNCE_IMAP_USER": env("BOUNCE_IMAP_USER") or "",
        "BOUNCE_IMAP_PASSWORD": env("BOUNCE_IMAP_PASSWORD") or "",
        "BOUNCE_IMAP_FOLDER": env("BOUNCE_IMAP_FOLDER") or "INBOX",
        "BOUNCE_POLL_SECONDS": float(env("BOUNCE_POLL_SECONDS") or 60),
        "SENDGRID_WEBHOOK_PUBLIC_KEY": env("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
        "MAILGUN_WEBHOOK_SIGNING_KEY": env("MAILGUN_WEBHOOK_SIGNING_KEY") or None,
        "POSTMARK_WEBHOOK_USER": env("POSTMARK_WEBHOOK_USER") or None,
        "POSTMARK_WEBHOOK_PASSWORD": env("POSTMARK_WEBHOOK_PASSWORD") or None,
        "SES_WEBHOOK": _flag("SES_WEBHOOK", False),
        "SES_TOPIC_ARNS": env("SES_TOPIC_ARNS") or "",
        "METRICS_TOKEN": env("METRICS_TOKEN") or None,
        # Outbound webhooks (DESIGN.md, "Engagement after the email").
        "WEBHOOK_ALLOW_HTTP": _flag("WEBHOOK_ALLOW_HTTP", False),
        "WEBHOOK_ALLOW_PRIVATE": _flag("WEBHOOK_ALLOW_PRIVATE", False),
        "WEBHOOK_RETRY_BASE_SECONDS": float(env("WEBHOOK_RETRY_BASE_SECONDS") or 30),
        "WEBHOOK_MAX_ATTEMPTS": int(env("WEBHOOK_MAX_ATTEMPTS") or 12),
        "WEBHOOK_TIMEOUT_SECONDS": float(env("WEBHOOK_TIMEOUT_SECONDS") or 5),
        "WEBHOOK_CONCURRENCY": int(env("WEBHOOK_CONCURRENCY") or 8),
        # Verified sender domains: the DNS server asked (for tests and development; unset,
        # the system's), and how long to wait for it.
        "DNS_RESOLVER": env("DNS_RESOLVER") or None,
        "DNS_TIMEOUT_SECONDS": float(env("DNS_TIMEOUT_SECONDS") or 5),
        # Deliverability (DESIGN.md): the default sender's DKIM key (PEM text or a file's
        # path), its selector and domain; what a sender domain's SPF must include for us.
        "DKIM_PRIVATE_KEY": env("DKIM_PRIVATE_KEY") or None,
        "DKIM_SELECTOR": env("DKIM_SELECTOR") or None,
        "DKIM_DOMAIN": env("DKIM_DOMAIN") or None,
        "SPF_INCLUDE": env("SPF_INCLUDE") or None,
        # Credentials that expire (DESIGN.md): the notice this many days before (unset: none),
        # and the secret the Open Badges signing keys are encrypted with at rest.
        "EXPIRY_NOTICE_DAYS": int(env("EXPIRY_NOTICE_DAYS") or 0) or None,
        "KEY_ENCRYPTION_KEY": env("KEY_ENCRYPTION_KEY") or None,
        # The most messages one organization hands to the mail server per 24 hours.
        "ORG_DAILY_LIMIT": int(env("ORG_DAILY_LIMIT") or 10_000),
        # The reputation guard: the emails it judges, the shares that pause (reputation).
        "REPUTATION_WINDOW": int(env("REPUTATION_WINDOW") or 200),
        "REPUTATION_BOUNCE_RATE": float(env("REPUTATION_BOUNCE_RATE") or 0.08),
        "REPUTATION_COMPLAINT_RATE": float(env("REPUTATION_COMPLAINT_RATE") or 0.003),
        "REPUTATION_MIN_SAMPLE": int(env("REPUTATION_MIN_SAMPLE") or 50),
        # Single sign-on with OpenID Connect (DESIGN.md, "A team per organization"): people
        # who sign in join OIDC_ORG with OIDC_DEFAULT_ROLE.
        "OIDC_ISSUER": (env("OIDC_ISSUER") or "").rstrip("/") or None,
        "OIDC_CLIENT_ID": env("OIDC_CLIENT_ID") or None,
        "OIDC_CLIENT_SECRET": env("OIDC_CLIENT_SECRET") or None,
        "OIDC_ORG": env("OIDC_ORG") or None,
        "OIDC_DEFAULT_ROLE": env("OIDC_DEFAULT_ROLE") or "viewer",
        "OIDC_NAME": env("OIDC_NAME") or "single sign-on",
        # Rate limits (the limits library's syntax), kept in memory or, for several
        # processes, where RATELIMIT_STORAGE_URI says (redis://host:6379/0).
        "RATELIMIT_STORAGE_URI": env("RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_STRATEGY": "sliding-window-counter",
        "LOGIN_RATE_LIMIT": env("LOGIN_RATE_LIMIT") or "10 per 15 minutes",  # failures, an address
        "LOGIN_IP_RATE_LIMIT": env("LOGIN_IP_RATE_LIMIT") or "30 per 15 minutes",  # an IP's
        "API_RATE_LIMIT": env("API_RATE_LIMIT") or "600 per minute",  # each API key
        # Password reset links asked for one address (a mailbox not to flood).
        "RESET_RATE_LIMIT": env("RESET_RATE_LIMIT") or "5 per hour",
        # Calls without a working API key, from one IP address.
        "API_BAD_KEY_RATE_LIMIT": env("API_BAD_KEY_RATE_LIMIT") or "30 per minute",
        "PUBLIC_RATE_LIMIT": env("PUBLIC_RATE_LIMIT") or "3000 per minute",  # recipients, an IP
        # Behind N reverse proxies, the client's address is the Nth from the right of
        # X-Forwarded-For (and https from X-Forwarded-Proto): rate limits need it.
        "PROXY_COUNT": int(env("PROXY_COUNT") or 0),
        # Larger request bodies get a 413 before they are read: forms and JSON (a bulk call
        # of 1,000 credentials is about 200 KB); the spreadsheet upload takes its own limit.
        "MAX_CONTENT_LENGTH": 2 << 20,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


def check_settings(config):
    """Parse the settings that need it once, and refuse to start on a bad one."""
    try:  # every From, envelope and Message-ID takes its parts from here
        config["DEFAULT_SENDER"] = validation.clean_sender(config["MAIL_DEFAULT_SENDER"])
    except validation.InvalidInput as error:
        raise ConfigError(f"MAIL_DEFAULT_SENDER: {error}") from None
    if isinstance(config.get("BOUNCE_ADDRESS"), str):
        try:
            config["BOUNCE_ADDRESS"] = validation.clean_sender(config["BOUNCE_ADDRESS"])
        except validation.InvalidInput as error:
            raise ConfigError(f"BOUNCE_ADDRESS: {error}") from None
    try:
        config["MAIL_RATE_WINDOWS"] = pace.parse_rate_limit(config["MAIL_RATE_LIMIT"])
    except ValueError as error:
        raise ConfigError(f"MAIL_RATE_LIMIT: {error}. Write it as \"14 per second\" or "
                          "\"14 per second; 50000 per day\".") from None
    for name in ("LOGIN_RATE_LIMIT", "LOGIN_IP_RATE_LIMIT", "RESET_RATE_LIMIT",
                 "API_RATE_LIMIT", "API_BAD_KEY_RATE_LIMIT", "PUBLIC_RATE_LIMIT"):
        try:
            limits.parse_many(config[name])
        except ValueError:
            raise ConfigError(f"{name}: write it as \"10 per 15 minutes\".") from None
    try:
        config["SES_TOPIC_ARNS"] = validation.clean_topic_arns(config["SES_TOPIC_ARNS"])
    except validation.InvalidInput as error:
        raise ConfigError(f"SES_TOPIC_ARNS: {error}") from None
    if config["SES_WEBHOOK"] and not config["SES_TOPIC_ARNS"]:
        raise ConfigError("SES_WEBHOOK=1 needs SES_TOPIC_ARNS: the ARNs of the SNS topics of your "
                          "SES bounce and complaint notifications, separated by commas (anyone "
                          "can make a topic that AWS signs).")
    if config.get("DNS_RESOLVER"):
        try:
            sender_domains.parse_server(config["DNS_RESOLVER"])
        except ValueError:
            raise ConfigError("DNS_RESOLVER: write it as 127.0.0.1 or 127.0.0.1:5353.") from None
    try:
        config["DKIM_DEFAULT_SIGNER"] = signing.default_signer(config)
    except signing.ConfigError as error:
        raise ConfigError(f"DKIM: {error}") from None
    try:
        config["MAX_QUEUE_AGE"] = validation.clean_duration(config["MAX_QUEUE_AGE"])
    except validation.InvalidInput as error:
        raise ConfigError(f"MAX_QUEUE_AGE: {error}") from None
    if config["EXPIRY_NOTICE_DAYS"] is not None and not 1 <= config["EXPIRY_NOTICE_DAYS"] <= 365:
        raise ConfigError("EXPIRY_NOTICE_DAYS must be from 1 to 365 (or unset: no notice).")
    if config["ORG_DAILY_LIMIT"] < 1:
        raise ConfigError("ORG_DAILY_LIMIT must be 1 or more.")
    for name in ("REPUTATION_BOUNCE_RATE", "REPUTATION_COMPLAINT_RATE"):
        if not 0 < config[name] <= 1:
            raise ConfigError(f"{name} must be a share above 0 and at most 1 (1 switches the "
                              "rule off), e.g. 0.08 for 8%.")
    for name in ("REPUTATION_WINDOW", "REPUTATION_MIN_SAMPLE"):
        if config[name] < 1:
            raise ConfigError(f"{name} must be 1 or more.")
    for name in ("SMTP_CONCURRENCY", "WEBHOOK_CONCURRENCY"):
        if config[name] < 1:
            raise ConfigError(f"{name} must be 1 or more.")
    # Each SMTP connection's thread holds a database connection through its batch and
    # takes a second one now and then (a claim, a lease renewal), and each webhook thread
    # one to record a try: a pool any smaller would open and close connections all the time.
    config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault(
        "pool_size", max(5, 2 * config["SMTP_CONCURRENCY"] + config["WEBHOOK_CONCURRENCY"] + 2))
    if config["OIDC_ISSUER"]:
        missing = [name for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_ORG")
                   if not config[name]]
        if missing:
            raise ConfigError(f"OIDC_ISSUER is set: single sign-on also needs "
                              f"{', '.join(missing)} (OIDC_ORG: the name of the organization "
                              "people who sign in join).")
    if config["OIDC_DEFAULT_ROLE"] not in ("viewer", "issuer", "owner"):
        raise ConfigError("OIDC_DEFAULT_ROLE must be viewer, issuer or owner.")
    if config["BOUNCE_IMAP_SECURITY"] not in ("ssl", "starttls", "none"):
        raise ConfigError("BOUNCE_IMAP_SECURITY must be ssl, starttls or none.")
    config["BOUNCE_IMAP_PORT"] = config["BOUNCE_IMAP_PORT"] or (
        993 if config["BOUNCE_IMAP_SECURITY"] == "ssl" else 143)
