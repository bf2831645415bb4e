"""The rest of what comes back to a bounce address: the non-standard bounces of qmail
(QSBMF), Exim, Yahoo and old Exchange, and mail that is no report at all (an out-of-office,
a challenge, a person's reply)."""

from samples.reports import crlf


def qmail(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """qmail's QSBMF text bounce, the returned message quoted below its break line."""
    return crlf(f"""
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
    return crlf(f"""
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
    return crlf(f"""
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
    return crlf(f"""
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


def out_of_office(message_id, recipient="jane@example.com", to="credentials@issuer.test"):
    """An out-of-office reply (Auto-Submitted as bounces are, but a person's away note)."""
    return crlf(f"""
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
    return crlf(f"""
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
    return crlf(f"""
From: Jane Doe <{recipient}>
To: {to}
Subject: Re: Your credential: Course A
Date: Tue, 1 Dec 2026 12:00:00 +0000
Message-ID: <reply-1@example.com>
In-Reply-To: {message_id}

Thank you so much! Can I get it printed too?
""")
