"""Codes, not sentences: bounce reasons and event causes stored as codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 23:40:00

email_messages.bounce_reason (a sentence) becomes bounce_code; email_events.detail (a
sentence) becomes code and data, and email_events.message_id (a row id, not a Message-ID)
becomes email_message_id. Existing rows are converted: known sentences to their codes;
the words of an older event are kept as they were ({"text": …}).
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The sentences written until this revision, and their codes (frozen here: the words
# may change later, the rows written until now do not).
REASONS = {
    "The mailbox does not exist.": "mailbox_unknown",
    "The mailbox is full.": "mailbox_full",
    "The mailbox is disabled.": "mailbox_disabled",
    "The domain does not exist or does not accept mail.": "domain_unknown",
    "Blocked as spam or by the receiving server's policy.": "blocked",
    "The email is too large for the receiving server.": "too_large",
    "The receiving server refused the email.": "refused",
    "The receiving server is busy or asked us to try again later.": "server_busy",
    "The receiving server cannot take international addresses.": "no_smtputf8",
    "The email had an invalid header.": "bad_header",
    "Could not build the email.": "compose_failed",
    "Could not send the email.": "send_failed",
}
PREFIXES = {"Could not reach the mail server: ": "unreachable",
            "Our mail server refused to send: ": "relay_refused"}
RESEND_CAUSES = {"forced": "forced", "bulk resend": "bulk", "reminder: not opened": "nudge",
                 "automatic reminder": "reminder"}
GAVE_UP = re.compile(r"Gave up after \d+ tries: ")


def reason_code(sentence):
    """The code of a stored bounce reason ("refused" for words no code had)."""
    sentence = GAVE_UP.sub("", sentence, count=1)
    if sentence in REASONS:
        return REASONS[sentence]
    return next((code for prefix, code in PREFIXES.items() if sentence.startswith(prefix)),
                "refused")


def upgrade():
    connection = op.get_bind()
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce_code', sa.String(length=20), nullable=True))
    messages = sa.table('email_messages', sa.column('id', sa.Integer),
                        sa.column('bounce_reason', sa.Text),
                        sa.column('bounce_code', sa.String))
    # One UPDATE per distinct sentence: there are few, however many rows.
    for (sentence,) in connection.execute(
            sa.select(messages.c.bounce_reason).where(messages.c.bounce_reason.is_not(None))
            .distinct()).all():
        connection.execute(messages.update().where(messages.c.bounce_reason == sentence)
                           .values(bounce_code=reason_code(sentence)))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_reason')
        batch_op.drop_column('bounce_reason')
        batch_op.create_index('ix_email_messages_reason', ['org_id', 'bounce_code'],
                              unique=False)

    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=True))
    events = sa.table('email_events', sa.column('id', sa.Integer), sa.column('type', sa.String),
                      sa.column('detail', sa.Text), sa.column('code', sa.String),
                      sa.column('data', sa.JSON))
    for words, code in RESEND_CAUSES.items():
        connection.execute(events.update()
                           .where(events.c.type == "resent", events.c.detail == words)
                           .values(code=code, detail=None))
    as_text = (sa.func.json_build_object if connection.dialect.name == "postgresql"
               else sa.func.json_object)
    connection.execute(events.update().where(events.c.detail.is_not(None))
                       .values(data=as_text("text", events.c.detail)))
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_column('detail')
        batch_op.drop_index('ix_email_events_message_id')
        batch_op.alter_column('message_id', new_column_name='email_message_id')
        batch_op.drop_constraint('fk_email_events_message_id_email_messages',
                                 type_='foreignkey')
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_email_events_email_message_id_email_messages'),
                                    'email_messages', ['email_message_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_email_events_email_message_id'),
                              ['email_message_id'], unique=False)


def downgrade():
    connection = op.get_bind()
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_events_email_message_id'))
        batch_op.drop_constraint('fk_email_events_email_message_id_email_messages',
                                 type_='foreignkey')
        batch_op.alter_column('email_message_id', new_column_name='message_id')
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_email_events_message_id_email_messages',
                                    'email_messages', ['message_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index('ix_email_events_message_id', ['message_id'], unique=False)
        batch_op.add_column(sa.Column('detail', sa.Text(), nullable=True))
    events = sa.table('email_events', sa.column('id', sa.Integer), sa.column('detail', sa.Text),
                      sa.column('code', sa.String), sa.column('data', sa.JSON))
    causes = {code: words for words, code in RESEND_CAUSES.items()}
    for row_id, code, data in connection.execute(
            sa.select(events.c.id, events.c.code, events.c.data)).all():
        detail = (data or {}).get("text") or (data or {}).get("reply") or causes.get(code)
        if detail:
            connection.execute(events.update().where(events.c.id == row_id)
                               .values(detail=detail))
    with op.batch_alter_table('email_events', schema=None) as batch_op:
        batch_op.drop_column('data')
        batch_op.drop_column('code')

    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce_reason', sa.Text(), nullable=True))
    messages = sa.table('email_messages', sa.column('id', sa.Integer),
                        sa.column('bounce_reason', sa.Text),
                        sa.column('bounce_code', sa.String))
    sentences = {code: sentence for sentence, code in REASONS.items()}
    for row_id, code in connection.execute(
            sa.select(messages.c.id, messages.c.bounce_code)
            .where(messages.c.bounce_code.is_not(None))).all():
        connection.execute(messages.update().where(messages.c.id == row_id).values(
            bounce_reason=sentences.get(code, "The receiving server refused the email.")))
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_reason')
        batch_op.drop_column('bounce_code')
        batch_op.create_index('ix_email_messages_reason', ['org_id', 'bounce_reason'],
                              unique=False)
