"""Standard reports that come back to a bounce address, written from each format's
documentation and from reports real servers send: RFC 3464 DSNs (Postfix, Gmail, Microsoft
365, Sendmail's delay notice, Postfix's success notice) and an ARF spam complaint (RFC
5965)."""


def crlf(text):
    """Mail text as a server sends it: CRLF line ends, bytes."""
    return text.lstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n").encode()


def postfix(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Postfix's DSN: returned headers only, Auto-Submitted like every Postfix bounce."""
    return crlf(f"""
Return-Path: <>
Date: Tue, 01 Dec 2026 10:00:00 +0000 (UTC)
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="8A2C01234.1764583200/mx.example.com"
Message-Id: <20261201100000.8A2C01234@mx.example.com>

This is a MIME-encapsulated message.

--8A2C01234.1764583200/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{recipient}>: host mx2.example.com[192.0.2.10] said: 550 5.1.1
    <{recipient}>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--8A2C01234.1764583200/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 8A2C01234
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Tue,  1 Dec 2026 09:59:58 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx2.example.com
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:
    User unknown in virtual mailbox table

--8A2C01234.1764583200/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{to}>
From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}

--8A2C01234.1764583200/mx.example.com--
""")


def gmail(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Gmail's DSN: "Address not found", the returned message attached whole."""
    return crlf(f"""
Delivered-To: {to}
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {to}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Date: Tue, 01 Dec 2026 02:00:01 -0800
Message-ID: <6655aa11.abc.gmail-dsn@mx.google.com>
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000gmail"; report-type=delivery-status

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {recipient} because the address couldn't be found,
or is unable to receive mail.

--000000000000gmail
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; relay.example.org
Arrival-Date: Tue, 01 Dec 2026 02:00:00 -0800 (PST)

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.0.27, the server for the domain
 gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not
 exist. Please try double-checking the recipient's email address for typos or
 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Tue, 01 Dec 2026 02:00:01 -0800 (PST)

--000000000000gmail
Content-Type: message/rfc822

From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}
Content-Type: text/plain

Dear Jane, ...

--000000000000gmail--
""")


def microsoft365(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Exchange Online's NDR: "Undeliverable", RESOLVER.ADR.RecipientNotFound."""
    return crlf(f"""
From: postmaster@contoso.onmicrosoft.com
To: {to}
Date: Tue, 1 Dec 2026 10:00:00 +0000
Subject: Undeliverable: Your credential: Course A
Message-ID: <ndr-4f1d@DB9PR.eurprd.prod.outlook.com>
Auto-Submitted: auto-replied
Content-Language: en-US
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="ndr_boundary"

--ndr_boundary
Content-Type: text/plain; charset="us-ascii"

Your message to {recipient} couldn't be delivered.
jane wasn't found at example.com.

--ndr_boundary
Content-Type: message/delivery-status

Reporting-MTA: dns;DB9PR.eurprd.prod.outlook.com
Received-From-MTA: dns;relay.example.org
Arrival-Date: Tue, 1 Dec 2026 09:59:59 +0000

Final-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {recipient}
 not found by SMTP address lookup

--ndr_boundary
Content-Type: text/rfc822-headers

From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}

--ndr_boundary--
""")


def delivered(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Postfix's success DSN (Action: delivered), sent when the sender asked for one
    (NOTIFY=SUCCESS)."""
    return crlf(f"""
Return-Path: <>
Date: Tue, 01 Dec 2026 10:00:05 +0000 (UTC)
From: MAILER-DAEMON@relay.example.com (Mail Delivery System)
Subject: Successful Mail Delivery Report
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4B7C21A5F.1764583205/relay.example.com"
Message-Id: <20261201100005.4B7C21A5F@relay.example.com>

This is a MIME-encapsulated message.

--4B7C21A5F.1764583205/relay.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.example.com.

Your message was successfully delivered to the destination(s)
listed below. If the message was delivered to mailbox you will
receive no further notifications. Otherwise you may still receive
notifications of mail delivery errors from other systems.

<{recipient}>: delivery via mx.example.com[192.0.2.10]:25: 250 2.0.0 Ok:
    queued as 9F1E2D3C4B

--4B7C21A5F.1764583205/relay.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.com
X-Postfix-Queue-ID: 4B7C21A5F
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Tue,  1 Dec 2026 10:00:03 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: delivered
Status: 2.0.0
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 9F1E2D3C4B

--4B7C21A5F.1764583205/relay.example.com
Content-Description: Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{to}>
From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}

--4B7C21A5F.1764583205/relay.example.com--
""")


def delayed(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Sendmail's warning: still trying (Action: delayed, 4.4.7)."""
    return crlf(f"""
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: {to}
Subject: Warning: could not send message for past 4 hours
Date: Tue, 1 Dec 2026 14:00:00 +0000
Message-ID: <202612011400.warn@mx.example.net>
Auto-Submitted: auto-generated (warning-timeout)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="WARN"

--WARN
Content-Type: text/plain

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Tue, 1 Dec 2026 10:00:00 +0000
----- Transcript of session follows -----
<{recipient}>... Deferred: Connection timed out with mx.example.com.
Warning: message still undelivered after 4 hours

--WARN
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: RFC822; {recipient}
Action: delayed
Status: 4.4.7
Will-Retry-Until: Sat, 5 Dec 2026 10:00:00 +0000

--WARN
Content-Type: text/rfc822-headers

Message-ID: {message_id}
Subject: Your credential: Course A

--WARN--
""")


def complaint(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """An ARF report (RFC 5965) from a mailbox provider's feedback loop."""
    return crlf(f"""
From: <feedback@fbl.example.net>
Date: Tue, 1 Dec 2026 11:00:00 +0000
Subject: FW: Your credential: Course A
To: {to}
Message-ID: <fbl-9876@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 192.0.2.1 on
Tue, 1 Dec 2026 10:00:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{to}>
Original-Rcpt-To: <{recipient}>
Arrival-Date: Tue, 1 Dec 2026 10:00:00 +0000
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}

Dear Jane, ...

--part1_13d.2e68ed54_boundary--
""")
