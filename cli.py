"""Command line: users, API keys, the demo issuer, the worker, bounce reports, signing keys
(`flask --app app …`)."""

import signal
import time

import click
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app
from flask.cli import AppGroup, with_appcontext

import demo as demo_data
import jobs
import validation
from accounts import create_user
from bounces import mailbox
from mailer.dev_dns import DnsServer
from mailer.queue import stop_sending
from models import ApiKey, Organization, User, db, write_transaction
from models.states import Role
from models.types import utcnow
from openbadges import keys as signing_keys

users = AppGroup("users", help="Manage issuer accounts.")
apikeys = AppGroup("apikeys", help="Manage API keys.")


def _clean_email(value):
    try:
        address = validation.clean_email(value)
    except validation.InvalidInput as error:
        raise click.BadParameter(str(error)) from None
    if not address:
        raise click.BadParameter("An email address is required.")
    return address.lower()


def _user_named(email):
    """The issuer with this address, or a clear error."""
    user = db.session.scalar(sa.select(User).filter_by(email=_clean_email(email)))
    if user is None:
        raise click.ClickException(f"No user {email}.")
    return user


@users.command("create")
@click.argument("email")
@click.option("--org", "org_name", required=True, help="Organization name (created if new).")
@click.option("--password", required=True, help="At least 8 characters.")
def users_create(email, org_name, password):
    """Create an issuer account."""
    email = _clean_email(email)
    try:
        org_name = validation.clean_text(org_name, what="Organization name")
    except validation.InvalidInput as error:
        raise click.BadParameter(str(error)) from None
    if len(password) < 8:
        raise click.BadParameter("The password needs at least 8 characters.")
    if db.session.scalar(sa.select(User).filter_by(email=email)):
        raise click.ClickException(f"A user {email} exists already.")
    create_user(email, org_name, password)
    click.echo(f"Created {email} in {org_name}.")


@apikeys.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]),
              help="What the key may do; at most, and by default, its person's role.")
def apikeys_create(email, role):
    """Create an API key for a user; the key is printed once, as the last line."""
    user = _user_named(email)
    try:
        row, key = ApiKey.issue(user, role)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--role") from None
    db.session.commit()
    click.echo(f"API key ({row.role}) for {user.email} ({user.org.name}); it is shown only "
               "now:")
    click.echo(key)


@apikeys.command("list")
@click.argument("email")
def apikeys_list(email):
    """List a user's API keys: prefix, created, last used, revoked."""
    user = _user_named(email)
    keys = db.session.scalars(sa.select(ApiKey).filter_by(user_id=user.id)
                              .order_by(ApiKey.created_at)).all()
    if not keys:
        click.echo(f"{user.email} has no API keys.")
    for key in keys:
        used = f"{key.last_used_at:%Y-%m-%d %H:%M} UTC" if key.last_used_at else "never"
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M} UTC" if key.revoked_at else "active"
        click.echo(f"{key.label:16} created {key.created_at:%Y-%m-%d %H:%M} UTC  "
                   f"last used {used:20}  {state}")


@apikeys.command("revoke")
@click.argument("prefix")
def apikeys_revoke(prefix):
    """Revoke the API key whose first characters are PREFIX (as `list` shows them)."""
    prefix = prefix.rstrip("…").strip()
    key = db.session.scalar(sa.select(ApiKey).filter_by(prefix=prefix)) if prefix else None
    if key is None:
        raise click.ClickException(f"No API key {prefix!r}: `flask apikeys list EMAIL` "
                                   "shows the prefixes.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    click.echo(f"Revoked {key.label} of {key.user.email}: it gets 401 from now on.")


@click.command("demo")
def demo():
    """Create the demo issuer and demo credentials, unless an issuer exists (development
    only: its password is printed and known)."""
    if not current_app.config["DEV_MAIL_CATCHER"]:
        raise click.ClickException("The demo issuer is for development only: run it with "
                                   "DEV_MAIL_CATCHER=1 (make run does).")
    if db.session.scalar(sa.select(User).limit(1)):
        click.echo("An issuer exists already; log in with your account.")
        return
    email, password = demo_data.seed()
    click.echo(f"Demo issuer created. Log in at http://127.0.0.1:5000/login as "
               f"{email} with password {password}")


@click.command("dev-dns")
@click.option("--port", default=5353, show_default=True)
@click.option("--records", default="instance/dns-records.json", show_default=True,
              help="A JSON file of {name: [TXT texts]}, read again for each query.")
def dev_dns(port, records):
    """Serve TXT records from a file on 127.0.0.1 (development: point DNS_RESOLVER at it to
    verify a sender domain and publish its DKIM record without a real DNS host)."""
    server = DnsServer(port, records).start()
    click.echo(f"DNS on 127.0.0.1:{port}, records from {records}; Ctrl+C stops it. Run the app "
               f"with DNS_RESOLVER=127.0.0.1:{port}.")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


@click.command("worker")
@with_appcontext
def worker():
    """Run the mail queue, imports, webhooks and scheduled publishing in the foreground
    (no web)."""
    app = current_app._get_current_object()
    jobs.log_outcomes()
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs.add_jobs(scheduler, app)
    # The signal only notes that it came: the main thread does nothing but wait for it.
    # Raised from the handler, SystemExit landed inside the scheduler's loop once, which
    # catches every exception there, and the worker never exited.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"Worker running every {app.config['QUEUE_INTERVAL_SECONDS']} s; "
               "Ctrl+C stops it.")
    scheduler.start()
    try:
        while not stopping:
            time.sleep(0.2)  # a signal cuts it short
    except KeyboardInterrupt:
        pass
    # Connections finish the message they are handing over and give the rest back.
    stop_sending.set()
    scheduler.shutdown(wait=True)


bounces = AppGroup("bounces", help="Bounce reports that come back later.")


@bounces.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def bounces_import(paths):
    """Read bounce reports from Maildir folders, mbox files or .eml files."""
    outcomes = mailbox.import_files(paths)
    click.echo(", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "nothing")


@bounces.command("poll")
def bounces_poll():
    """Read the bounce mailbox (BOUNCE_IMAP_*) once, as the worker does every
    BOUNCE_POLL_SECONDS."""
    if not mailbox.configured():
        raise click.ClickException("No bounce mailbox: set BOUNCE_IMAP_HOST (see README).")
    try:
        outcomes = mailbox.poll()
    except mailbox.MailboxError as error:
        raise click.ClickException(f"Could not read the bounce mailbox: {error}") from None
    click.echo(", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "nothing")


keys = AppGroup("keys", help="The keys Open Badges are signed with.")


def _org_named(name):
    """The organization with this name or public id, or a clear error."""
    org = db.session.scalar(sa.select(Organization).where(
        sa.or_(Organization.name == name, Organization.public_id == name)))
    if org is None:
        raise click.ClickException(f"No organization named {name!r}.")
    return org


@keys.command("rotate")
@click.argument("org")
def keys_rotate(org):
    """Sign ORG's Open Badges with a new key from now on (ORG: its name or public id);
    the older keys stay in its issuer profile, so what they signed still verifies."""
    found = _org_named(org)
    with write_transaction() as connection:
        number = signing_keys.rotate(connection, found.id)
    click.echo(f"{found.name} now signs with key-{number}.")


@keys.command("encrypt")
def keys_encrypt():
    """Encrypt the private keys stored before KEY_ENCRYPTION_KEY was set."""
    if not current_app.config["KEY_ENCRYPTION_KEY"]:
        raise click.ClickException("Set KEY_ENCRYPTION_KEY first (a long random secret).")
    with write_transaction() as connection:
        count = signing_keys.encrypt_stored(connection)
    click.echo(f"Encrypted {count} key{'s' if count != 1 else ''}.")


def register(app):
    """Attach the commands to the app's `flask` CLI."""
    for command in (users, apikeys, demo, worker, bounces, keys, dev_dns):
        app.cli.add_command(command)
