"""Organization-scoped reads shared by the pages and the API."""

import time
import unicodedata
from collections import Counter

import sqlalchemy as sa
from flask import abort, current_app

from models import Credential, EmailMessage, StatusCount, db, funnel_count, search
from models.status import EmailStatus


def scoped(org_id):
    """Select the organization's credentials: every issuer query starts here (none of an
    import still issuing)."""
    return sa.select(Credential).where(Credential.org_id == org_id, Credential.shown())


def credential_or_404(org_id, credential_id):
    """The organization's credential, or 404 (also for another organization's id)."""
    credential = db.session.scalar(scoped(org_id).where(Credential.id == credential_id))
    if credential is None:
        abort(404)
    return credential


def like_escape(text):
    """Text for a LIKE pattern with its wildcards taken literally (escape character \\)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matching(query, text):
    """Narrow a credential query to names or addresses containing the text, whatever its
    case and accents (models.search); a trigram index finds 3 characters or more."""
    if not text:
        return query
    folded = search.fold(text)
    if any(unicodedata.category(ch) == "Cc" for ch in folded):
        return query.where(sa.false())  # no name or address holds a control character
    if len(folded) >= search.INDEXED_LENGTH and search.uses_fts(db.engine):
        phrase = '"' + folded.replace('"', '""') + '"'  # the whole text, taken literally
        found = sa.select(sa.column("rowid")).select_from(sa.table(search.FTS)).where(
            sa.literal_column(search.FTS).op("MATCH")(phrase))
        return query.where(Credential.id.in_(found))
    return query.where(
        Credential.search_text.like("%" + like_escape(folded) + "%", escape="\\"))


# What the recipient did, as the Credentials page filters by it: name → (label, condition).
# The names are models.funnel_count stages, whose counts give the filters' totals.
ENGAGEMENT = {name: (label, funnel_count.REACHED[name]) for name, label in zip(
    funnel_count.FILTERS, ["Viewed", "Downloaded", "Added to LinkedIn", "Shared"], strict=True)}


def filter_args(values):
    """The status filter, search text, engagement filter and revoked-only flag of the
    Credentials page, cleaned from request values (an unknown status or engagement means
    all)."""
    status = values.get("status", "")
    if status not in {s.value for s in EmailStatus}:
        status = ""
    engaged = values.get("engaged", "")
    return (status, values.get("q", "").strip()[:200], engaged if engaged in ENGAGEMENT else "",
            values.get("revoked") == "1")


REVOKED = Credential.revoked_at.is_not(None)


def filtered(org_id, status="", text="", engaged="", revoked=False):
    """The organization's credentials with the status (all when empty) and the engagement
    (any when empty) matching the text; only the revoked ones when revoked."""
    query = matching(scoped(org_id), text)
    if engaged:
        query = query.where(ENGAGEMENT[engaged][1])
    if revoked:
        query = query.where(REVOKED)
    return query.where(Credential.email_status == status) if status else query


def revoked_count(org_id, text=""):
    """How many of the organization's credentials (matching the text) are revoked: the
    revoked are read alone (a partial index holds them)."""
    return db.session.scalar(matching(sa.select(sa.func.count()).select_from(Credential).where(
        Credential.org_id == org_id, REVOKED), text))


def status_counts(org_id, text=""):
    """How many of the organization's credentials (matching the text) have each status."""
    if not text:
        return StatusCount.for_org(org_id)
    counts = dict.fromkeys((s.value for s in EmailStatus), 0)
    query = matching(sa.select(Credential.email_status, sa.func.count())
                     .where(Credential.org_id == org_id, Credential.shown()), text)
    counts.update(db.session.execute(query.group_by(Credential.email_status)).all())
    return counts


def page_of(org_id, status=None, text="", page=1, per_page=50, counts=None, engaged="",
            revoked=False, before=None):
    """One page of credentials, newest first, and the total matching; before: the page
    after the credential of that id instead of the page numbered page (a cursor, as
    cheap at the end of a long list as at its start)."""
    query = filtered(org_id, status, text, engaged, revoked)
    if engaged and not (status or text or revoked):  # kept beside the Analytics counts
        total = funnel_count.org_total(org_id, engaged)
    elif engaged or revoked:  # with a status or a search too: counted when asked
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    else:
        counts = counts if counts is not None else status_counts(org_id, text)
        total = counts[status] if status else sum(counts.values())
    # The page's ids first, then only those rows: a deep page skips ids, not whole rows
    # with their messages' and unsubscribes' look-ups.
    ids = query.with_only_columns(Credential.id).order_by(Credential.id.desc()).limit(per_page)
    ids = ids.offset((page - 1) * per_page) if before is None else ids.where(
        Credential.id < before)
    return rows_of(ids), total


def rows_of(ids):
    """The credentials of a query of ids, newest first, with what a list shows of them."""
    return db.session.scalars(
        sa.select(Credential).where(Credential.id.in_(ids.scalar_subquery()))
        .options(sa.orm.selectinload(Credential.group),
                 sa.orm.selectinload(Credential.messages),
                 sa.orm.undefer(Credential.unsubscribed_at))
        .order_by(Credential.id.desc())).all()


BLOCKED_KEPT_SECONDS = 60


def blocked_domains(org_id, threshold, bounced=None):
    """[(domain, count)] where at least threshold recipients bounced because the server
    blocked us (spam or policy), most first: their IT can lift that. Read again when the
    organization's bounced count (given, or read here) changes, else at most once a minute
    per process: the read costs one row per blocked recipient (0.9 s for 20,000), and every
    list view shows it."""
    if bounced is None:
        bounced = StatusCount.for_org(org_id)[EmailStatus.BOUNCED.value]
    # The app's last read per organization: (bounced count, when, domains).
    read = current_app.extensions.setdefault("blocked_domains", {})
    kept = read.get((org_id, threshold))
    now = time.monotonic()
    if kept and kept[0] == bounced and now - kept[1] < BLOCKED_KEPT_SECONDS:
        return kept[2]
    domains = _read_blocked_domains(org_id, threshold)
    read[(org_id, threshold)] = bounced, now, domains
    return domains


def _read_blocked_domains(org_id, threshold):
    """blocked_domains, read from the emails."""
    newest = sa.orm.aliased(EmailMessage)
    latest = (sa.select(sa.func.max(newest.id))
              .where(newest.credential_id == EmailMessage.credential_id).scalar_subquery())
    addresses = db.session.scalars(
        sa.select(EmailMessage.to_address)
        .join(Credential, Credential.id == EmailMessage.credential_id)
        .where(EmailMessage.org_id == org_id, EmailMessage.bounce_code == "blocked",
               EmailMessage.id == latest,
               Credential.email_status == EmailStatus.BOUNCED.value))
    counts = Counter(address.rpartition("@")[2].lower() for address in addresses)
    return [(domain, n) for domain, n in counts.most_common() if n >= threshold]
