"""A spreadsheet import: the uploaded file, its column mapping, and its rows once checked.

An import moves (reading →) mapping → checking → checked → issuing → done (TRANSITIONS
has every move). A workbook is read for its header in the background, as it can be large;
a CSV file is read in the upload request. Reading, checking and issuing run in the
background (importer.run), which holds the import by a lease; the rows wait in
import_rows, checked, until the issuer issues them.
"""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

import work
from models import db
from models.lease import RELEASED, Lease
from models.types import UTCDateTime, utcnow

STATES = ("reading", "mapping", "checking", "checked", "issuing", "done", "failed")
# The states in which a background job has work to do.
PENDING = ("reading", "checking", "issuing")
# Every move an import can make, and what makes it.
TRANSITIONS = {
    ("reading", "mapping"): "the background job read the workbook's header and first rows",
    ("reading", "failed"): "the workbook cannot be read (nothing is kept)",
    ("mapping", "checking"): "the issuer saved the column mapping",
    ("checking", "checked"): "the background job checked every row",
    ("checking", "failed"): "the file cannot be read (nothing is kept)",
    ("checking", "mapping"): "the issuer changes the mapping while the check runs",
    ("checked", "mapping"): "the issuer changes the mapping (the checked rows are dropped)",
    ("checked", "issuing"): "the issuer issues the good rows",
    ("issuing", "done"): "the background job issued every good row",
    ("issuing", "checked"): "issuing stopped on an error: what it wrote is removed, nothing "
                            "was shown, try again",
}


class LeaseLost(Exception):
    """Another worker, or the issuer, took the import away from this one."""


class ImportJob(db.Model):
    __tablename__ = "imports"
    __table_args__ = (
        sa.Index("ix_imports_pending", "state", "lease_until"),
        sa.CheckConstraint(f"state IN {STATES}", name="state"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200))
    stored_as: so.Mapped[str | None] = so.mapped_column(sa.String(100))  # in IMPORT_FOLDER
    kind: so.Mapped[str] = so.mapped_column(sa.String(4))  # csv | xlsx
    delimiter: so.Mapped[str | None] = so.mapped_column(sa.String(1))
    columns: so.Mapped[list] = so.mapped_column(sa.JSON)  # the header row's names
    sample: so.Mapped[list] = so.mapped_column(sa.JSON)  # the first rows, for the mapping
    expected_rows: so.Mapped[int | None] = so.mapped_column()  # an estimate, for progress
    # Column indexes (None: not in the file) and the group of rows without one.
    name_col: so.Mapped[int | None] = so.mapped_column()
    email_col: so.Mapped[int | None] = so.mapped_column()
    group_col: so.Mapped[int | None] = so.mapped_column()
    default_group: so.Mapped[str | None] = so.mapped_column(sa.String(200))

    state: so.Mapped[str] = so.mapped_column(sa.String(10), default="mapping")
    lease_owner: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    processed_rows: so.Mapped[int] = so.mapped_column(default=0)
    good_rows: so.Mapped[int] = so.mapped_column(default=0)
    problem_rows: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)

    # What the issuer chose when issuing, and what came of it.
    action: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    scheduled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    send_email: so.Mapped[bool] = so.mapped_column(default=True)
    queued: so.Mapped[int] = so.mapped_column(default=0)
    # While issuing, a chunk at a time (importer.run): the last line written, and the groups
    # it created (removed with its credentials if it stops).
    issued_through: so.Mapped[int | None] = so.mapped_column()
    new_groups: so.Mapped[list | None] = so.mapped_column(sa.JSON)

    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    user: so.Mapped["User"] = so.relationship()  # noqa: F821

    @property
    def column_choices(self):
        """(index, label) of each column: its header, or its spreadsheet letter."""
        return [(i, name or f"Column {_letter(i)}") for i, name in enumerate(self.columns)]

    def column_label(self, index):
        return dict(self.column_choices).get(index) if index is not None else None

    @property
    def total_rows(self):
        """Rows read below the header (empty ones left out), once checked."""
        return self.good_rows + self.problem_rows

    @property
    def issued(self):
        """Credentials the import created: every good row, once done."""
        return self.good_rows if self.state == "done" else 0

    @property
    def progress(self):
        """Percent of the rows checked, or None when there is no estimate."""
        if self.state != "checking" or not self.expected_rows:
            return None
        return min(99, 100 * self.processed_rows // self.expected_rows)

    @property
    def running(self):
        return self.state in PENDING

    @so.validates("state")
    def _given_work(self, _key, state):
        """An import that now has work for the background job has it started once committed
        (jobs.commit)."""
        if state in PENDING:
            work.note(work.IMPORTS)
        return state

    def can_move(self, state):
        """True when the import may move from where it is to this state."""
        return (self.state, state) in TRANSITIONS

    def _move(self, state, **values):
        if not self.can_move(state):
            raise ValueError(f"an import cannot move from {self.state} to {state}")
        self.state, self.error = state, None
        self.lease_owner = self.lease_until = None  # the issuer takes it from any worker
        for name, value in values.items():
            setattr(self, name, value)

    def start_check(self, name_col, email_col, group_col, default_group):
        """The issuer's mapping: check every row in the background."""
        self._move("checking", name_col=name_col, email_col=email_col, group_col=group_col,
                   default_group=default_group, processed_rows=0)

    def start_issuing(self, action, scheduled_at, send_email):
        """The issuer's choice: issue the good rows in the background."""
        self._move("issuing", action=action, scheduled_at=scheduled_at,
                   send_email=send_email, processed_rows=0, issued_through=None,
                   new_groups=None)

    def back_to_mapping(self):
        """Map the columns again (the caller drops the checked rows)."""
        self._move("mapping")

    @staticmethod
    def move_held(connection, import_id, owner, held, state, **values):
        """The background job's move: from held to state, only while owner holds the lease
        (else LeaseLost); moving to another step ends the lease."""
        if state != held:
            assert (held, state) in TRANSITIONS, (held, state)
            values = {"state": state, **RELEASED, **values}
        if not LEASE.write(connection, [import_id], owner, LEASE.table.c.state == held,
                           **values):
            raise LeaseLost

    def __repr__(self):
        return f"<ImportJob {self.id} {self.state} {self.filename!r}>"


LEASE = Lease(ImportJob.__table__)


class ImportRow(db.Model):
    """One row of the file, checked: good (problem is None) or refused with the reason."""

    __tablename__ = "import_rows"
    __table_args__ = (
        sa.UniqueConstraint("import_id", "line"),
        # Duplicates: the first earlier line with the same group and address.
        sa.Index("ix_import_rows_key", "import_id", "group_name", "email_key", "line"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    import_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("imports.id", ondelete="CASCADE"))
    line: so.Mapped[int] = so.mapped_column()
    # As read (cut to a displayable length when the row is refused).
    name: so.Mapped[str | None] = so.mapped_column(sa.Text)
    email: so.Mapped[str | None] = so.mapped_column(sa.Text)
    group_name: so.Mapped[str | None] = so.mapped_column(sa.Text)
    email_key: so.Mapped[str | None] = so.mapped_column(sa.String(254))  # lower-cased
    # None for a good row; else invalid (problem says why), duplicate (of an earlier line)
    # or existing (the group has a credential for this address already).
    problem_kind: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    problem: so.Mapped[str | None] = so.mapped_column(sa.Text)
    duplicate_of: so.Mapped[int | None] = so.mapped_column()  # the first line, for duplicates
    suggestion: so.Mapped[str | None] = so.mapped_column(sa.String(254))  # a likely fix
    fixed_from: so.Mapped[str | None] = so.mapped_column(sa.String(254))  # after the fix
    # Fixed at check time, so issuing is one INSERT … SELECT per table.
    token: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    message_token: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    message_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    public_id: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    search_text: so.Mapped[str | None] = so.mapped_column(sa.Text)  # models.search

    @property
    def problem_text(self):
        """What is wrong with the row, in plain words (None when it is good)."""
        if self.problem_kind == "duplicate":
            return f"duplicate of line {self.duplicate_of}"
        if self.problem_kind == "existing":
            return f"{self.email} already has a credential in {self.group_name}"
        return self.problem

    def __repr__(self):
        return f"<ImportRow {self.import_id}:{self.line} {self.problem_kind or 'ok'}>"


def _letter(index):
    """The spreadsheet letter of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
