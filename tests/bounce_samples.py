"""Mail that comes back to a bounce address, written from each format's documentation and
from reports real servers send: RFC 3464 DSNs (Postfix, Gmail, Microsoft 365, Sendmail's
delay notice), the non-standard bounces of qmail (QSBMF), Exim, Yahoo and old Exchange,
an ARF spam complaint (RFC 5965), and what is not a report at all."""


def _crlf(text):
    return text.lstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n").encode()


def postfix(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Postfix's DSN: returned headers only, Auto-Submitted like every Postfix bounce."""
    return _crlf(f"""
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
    return _crlf(f"""
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
    return _crlf(f"""
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


def delayed(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Sendmail's warning: still trying (Action: delayed, 4.4.7)."""
    return _crlf(f"""
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


def qmail(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """qmail's QSBMF text bounce, the returned message quoted below its break line."""
    return _crlf(f"""
Date: 1 Dec 2026 10:00:00 -0000
From: MAILER-DAEMON@mail.example.net
To: {to}
Subject: failure notice
Message-ID: <20261201100000.31337.qmail@mail.example.net>

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
192.0.2.25 does not like recipient.
Remote host said: 550 5.1.1 <{recipient}>... User unknown
Giving up on 192.0.2.25.

--- Below this line is a copy of the message.

Return-Path: <{to}>
From: Acme Academy <{to}>
To: {recipient}
Subject: Your credential: Course A
Message-ID: {message_id}

Dear Jane, ...
""")


def exim(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Exim's bounce: plain text, the failed address in X-Failed-Recipients."""
    return _crlf(f"""
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: {to}
Subject: Mail delivery failed: returning message to sender
Date: Tue, 01 Dec 2026 10:00:00 +0000
Message-Id: <E1abcde-0001Xy-Zz@mx.example.org>
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {recipient}
    host mx.example.com [192.0.2.25]
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    550 5.2.2 <{recipient}>: Mailbox full, quota exceeded

------ This is a copy of the message, including all the headers. ------

Return-path: <{to}>
Message-ID: {message_id}
Subject: Your credential: Course A
""")


def yahoo(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Yahoo's own format: not a DSN, the original message follows."""
    return _crlf(f"""
From: MAILER-DAEMON@yahoo.com
To: {to}
Subject: Failure Notice
Date: Tue, 1 Dec 2026 10:00:00 +0000
Message-ID: <1764583200.yahoo.bounce@mta1.mail.yahoo.com>

Sorry, we were unable to deliver your message to the following address.

<{recipient}>:
554: delivery error: dd This user doesn't have a yahoo.com account ({recipient})
[0] - mta1.mail.yahoo.com

--- Original message follows.

Message-ID: {message_id}
Subject: Your credential: Course A
""")


def exchange(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """Exchange 5.5/2000's text NDR: "did not reach the following recipient(s)"."""
    return _crlf(f"""
From: System Administrator <postmaster@corp.example>
To: {to}
Subject: Undeliverable: Your credential: Course A
Date: Tue, 1 Dec 2026 10:00:00 +0000
Message-ID: <exch-ndr-42@corp.example>
In-Reply-To: {message_id}

Your message

  To:      {recipient}
  Subject: Your credential: Course A

did not reach the following recipient(s):

SMTP={recipient}; on Tue, 1 Dec 2026 10:00:00 +0000
    The recipient name is not recognized
        The MTS-ID of the original message is: c=US;a= ;p=Corp;l=EXCH0112010000
    MSEXCH:IMS:Corp:Site:EXCH01 0 (000C05A6) Unknown Recipient
""")


def complaint(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """An ARF report (RFC 5965) from a mailbox provider's feedback loop."""
    return _crlf(f"""
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


def out_of_office(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """An out-of-office reply (Auto-Submitted as bounces are, but a person's away note)."""
    return _crlf(f"""
From: Jane Doe <{recipient}>
To: {to}
Subject: Automatic reply: Your credential: Course A
Date: Tue, 1 Dec 2026 10:00:05 +0000
Message-ID: <ooo-1@example.com>
In-Reply-To: {message_id}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All

I am out of the office until 8 December, with no access to email.
""")


def challenge(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """A challenge-response filter asking the sender to prove they are a person."""
    return _crlf(f"""
From: Spam Arrest <noreply@challenge.example>
To: {to}
Subject: Please confirm your message to {recipient}
Date: Tue, 1 Dec 2026 10:00:05 +0000
Message-ID: <challenge-1@challenge.example>
References: {message_id}

{recipient} uses a challenge-response system. To deliver your message, please
verify you are human by visiting https://challenge.example/verify/abc123
""")


def human_reply(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """A person answering the email."""
    return _crlf(f"""
From: Jane Doe <{recipient}>
To: {to}
Subject: Re: Your credential: Course A
Date: Tue, 1 Dec 2026 12:00:00 +0000
Message-ID: <reply-1@example.com>
In-Reply-To: {message_id}

Thank you so much! Can I get it printed too?
""")
