"""Reading what comes back: each format's findings, reason and original Message-ID."""

import pytest

import samples
from bounces.reports import read_report
from mailer.replies import classify

OURS = "<179600000000.1.2@issuer.test>"


@pytest.mark.parametrize("sample, kinds, reason", [
    (samples.postfix, ["failed"], "mailbox_unknown"),
    (samples.gmail, ["failed"], "mailbox_unknown"),
    (samples.microsoft365, ["failed"], "mailbox_unknown"),
    (samples.qmail, ["failed"], "mailbox_unknown"),
    (samples.exim, ["failed"], "mailbox_full"),
    (samples.yahoo, ["failed"], "mailbox_unknown"),
    (samples.exchange, ["failed"], "mailbox_unknown"),
    (samples.delayed, ["delayed"], "server_busy"),
    (samples.complaint, ["complained"], None),
    (samples.delivered, ["delivered"], None),
])
def test_reports_name_the_failed_address_our_message_and_why(app, sample, kinds, reason):
    report = read_report(sample(OURS))
    assert report.kind == "report"
    assert [finding.kind for finding in report.findings] == kinds
    (finding,) = report.findings
    assert finding.recipient == "jane@example.com"
    assert finding.message_id == OURS
    if reason:
        code = int(finding.reply[:3])
        assert classify(code if code >= 500 or kinds == ["delayed"] else 550,
                        finding.reply[4:], "data").code == reason


@pytest.mark.parametrize("sample, kind", [
    (samples.out_of_office, "auto_reply"),
    (samples.challenge, "auto_reply"),
    (samples.human_reply, "not_report"),
])
def test_replies_and_away_notes_are_not_reports(app, sample, kind):
    report = read_report(sample(OURS))
    assert (report.kind, report.findings) == (kind, ())


def test_a_reports_own_message_id_names_it(app):
    report = read_report(samples.postfix(OURS))
    assert report.key == "<20261201100000.8A2C01234@mx.example.com>"
    assert report.findings[0].reported_at.isoformat() == "2026-12-01T10:00:00+00:00"


@pytest.mark.parametrize("raw", [b"", b"\x00\xff garbage", b"Subject: hi\r\n\r\nhello",
                                 b"Content-Type: multipart/report; report-type=delivery-status"
                                 b"; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-"
                                 b"status\r\n\r\n--x--\r\n"])
def test_broken_mail_is_not_a_report_and_raises_nothing(app, raw):
    assert read_report(raw).findings == ()
