"""SPF and DMARC of a sender domain, read from a real DNS server (mailer/dev_dns.py) and
explained in plain words."""

import json

import pytest

from mailer import authentication
from mailer.dev_dns import DnsServer
from mailer.sender_domains import txt_records


@pytest.fixture
def config(dns_server):
    return {"DNS_RESOLVER": dns_server.address, "DNS_TIMEOUT_SECONDS": 2,
            "SPF_INCLUDE": "spf.tracker.example"}


@pytest.mark.parametrize(("texts", "ok", "says"), [
    (None, False, "acme.test has no SPF record, so receivers cannot tell which servers may "
                  "send for it. Add a TXT record at acme.test: "
                  "v=spf1 include:spf.tracker.example ~all"),
    (["google-site-verification=x"], False, "has no SPF record"),
    (["v=spf1 include:spf.tracker.example ~all"], True,
     "SPF lets our mail server send for acme.test."),
    (["v=spf1 mx include:_spf.google.com -all"], False,
     "add include:spf.tracker.example before its last term, for example: "
     "v=spf1 mx include:_spf.google.com include:spf.tracker.example -all"),
    (["v=spf1 mx -all", "v=spf1 include:spf.tracker.example ~all"], False,
     "acme.test has 2 SPF records; receivers treat that as an error"),
    (["v=spf1 include:spf.tracker.example +all"], False, "it lets anyone send as you"),
])
def test_spf_is_read_against_what_it_must_include(dns_server, config, texts, ok, says):
    if texts is not None:
        dns_server.records["acme.test"] = texts
    found = authentication.spf("acme.test", config)
    assert found["ok"] is ok
    assert says in found["advice"]


def test_without_spf_include_a_record_is_enough_and_it_says_so(dns_server, config):
    dns_server.records["acme.test"] = ["v=spf1 mx -all"]
    found = authentication.spf("acme.test", {**config, "SPF_INCLUDE": None})
    assert found["ok"] and "SPF_INCLUDE is not set" in found["advice"]


@pytest.mark.parametrize(("record", "signed", "ok", "says"), [
    (None, False, False, "No DMARC record at _dmarc.acme.test. Gmail and Yahoo require one"),
    ("v=DMARC1; p=none; rua=mailto:d@acme.test", False, True, "p=none: receivers report"),
    ("v=DMARC1; p=reject", False, False, "Your DMARC policy is p=reject, and your emails are "
                                         "not yet signed with DKIM for acme.test: receivers "
                                         "will refuse them"),
    ("v=DMARC1; p=quarantine", False, False, "receivers will quarantine them"),
    ("v=DMARC1; p=reject", True, True, "signed with DKIM for acme.test, which it needs"),
])
def test_dmarc_is_read_with_whether_the_mail_is_signed(dns_server, config, record, signed,
                                                        ok, says):
    if record:
        dns_server.records["_dmarc.acme.test"] = [record]
    found = authentication.dmarc("acme.test", config, signed=signed)
    assert (found["record"], found["ok"]) == (record, ok)
    assert says in found["advice"]


def test_a_subdomain_falls_back_to_its_organizational_domain(dns_server, config):
    dns_server.records["_dmarc.acme.test"] = ["v=DMARC1; p=none"]
    found = authentication.dmarc("mail.acme.test", config, signed=False)
    assert found["record"] == "v=DMARC1; p=none"
    assert [name for name, _ in dns_server.queries] == ["_dmarc.mail.acme.test",
                                                         "_dmarc.acme.test"]


def test_a_silent_dns_is_said_to_be_silent(dns_server, config):
    dns_server.silent.update({"acme.test", "_dmarc.acme.test"})
    config["DNS_TIMEOUT_SECONDS"] = 0.3
    assert "did not answer in time" in authentication.spf("acme.test", config)["advice"]
    assert "did not answer in time" in authentication.dmarc(
        "acme.test", config, signed=False)["advice"]


def test_the_development_dns_serves_a_file_read_again_for_each_query(tmp_path):
    records = tmp_path / "dns-records.json"
    server = DnsServer(records_file=str(records)).start()
    config = {"DNS_RESOLVER": server.address, "DNS_TIMEOUT_SECONDS": 2}
    try:
        assert txt_records("acme.test", config)[0] == "nxdomain"  # no file yet
        records.write_text(json.dumps({"Acme.test.": "v=spf1 -all",
                                       "_dmarc.acme.test": ["v=DMARC1; p=none"]}))
        assert txt_records("acme.test", config) == ("found", ["v=spf1 -all"])
        assert authentication.dmarc("acme.test", config, signed=False)["ok"]
        records.write_text("{not json")
        assert txt_records("acme.test", config)[0] == "nxdomain"
    finally:
        server.stop()
