"""CSV export of the credentials with their email status, for the current filter."""

import csv
import io

import sqlalchemy as sa
from flask import Blueprint, Response, request, stream_with_context
from flask_login import current_user, login_required

from models import Credential, db
from validation import FORMULA_STARTS
from views.queries import filter_args, filtered

bp = Blueprint("export", __name__)
COLUMNS = ["recipient_name", "recipient_email", "group", "issue_state", "published_at",
           "scheduled_at", "email_status", "email_status_label", "bounce_reason", "sent_at",
           "opened_at", "open_count", "viewed_at", "downloaded_at", "linkedin_clicked_at",
           "share_views"]


def neutralise(value):
    """A cell a spreadsheet will show as text, never run as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS + ("\t", "\r")) else text


def row_of(credential):
    latest = credential.latest_message
    status = credential.status
    return [credential.recipient_name, credential.recipient_email, credential.group.name,
            credential.issue_state, credential.published_at, credential.scheduled_at,
            status.value, status.label, credential.bounce_reason,
            latest and latest.sent_at, latest and latest.opened_at,
            latest.open_count if latest else 0, credential.viewed_at, credential.downloaded_at,
            credential.linkedin_clicked_at, credential.share_views or 0]


@bp.get("/credentials/export.csv")
@login_required
def export():
    """Stream every credential matching the filter, oldest first, as UTF-8 CSV."""
    query = (filtered(current_user.org_id, *filter_args(request.args))
             .order_by(Credential.id)
             .options(sa.orm.selectinload(Credential.group),
                      sa.orm.selectinload(Credential.messages)))

    return csv_response("credentials.csv", COLUMNS, lambda: map(row_of, db.session.scalars(
        query.execution_options(yield_per=500))))


def csv_response(filename, header, rows):
    """Stream the rows that rows() gives as a UTF-8 CSV download, every cell neutralised.

    rows is called while streaming: the request's session is closed by then, and a query
    must run in the one the stream has.
    """

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # so spreadsheets read the file as UTF-8
        writer.writerow(header)
        for row in rows():
            writer.writerow([neutralise(value) for value in row])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    # Recipients' names and addresses: kept by no cache, the browser's or a proxy's.
    return Response(stream_with_context(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})
