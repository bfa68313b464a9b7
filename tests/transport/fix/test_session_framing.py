"""A session frames incoming bytes with its dictionary's length/data pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectivity.core.clock import ManualClock
from connectivity.transport.fix.codec import checksum
from connectivity.transport.fix.dictionary import FixDictionary
from connectivity.transport.fix.session import Session
from connectivity.transport.fix.session_rules import Role, SessionConfig

# A dictionary with a data field no default pairing knows: BlobLen (20000) -> Blob (20001).
BLOB_XML = """<fix type='FIX' major='4' minor='4' servicepack='0'>
 <header><field name='BeginString' required='Y'/><field name='BodyLength' required='Y'/>
  <field name='MsgType' required='Y'/><field name='SenderCompID' required='Y'/>
  <field name='TargetCompID' required='Y'/><field name='MsgSeqNum' required='Y'/></header>
 <trailer><field name='CheckSum' required='Y'/></trailer>
 <messages>
  <message name='Logon' msgtype='A' msgcat='admin'>
   <field name='HeartBtInt' required='Y'/>
   <field name='BlobLen' required='N'/><field name='Blob' required='N'/>
  </message>
 </messages>
 <components/>
 <fields>
  <field number='8' name='BeginString' type='STRING'/>
  <field number='9' name='BodyLength' type='LENGTH'/>
  <field number='35' name='MsgType' type='STRING'><value enum='A' description='LOGON'/></field>
  <field number='49' name='SenderCompID' type='STRING'/>
  <field number='56' name='TargetCompID' type='STRING'/>
  <field number='34' name='MsgSeqNum' type='SEQNUM'/>
  <field number='108' name='HeartBtInt' type='INT'/>
  <field number='20000' name='BlobLen' type='LENGTH'/>
  <field number='20001' name='Blob' type='DATA'/>
  <field number='10' name='CheckSum' type='STRING'/>
 </fields>
</fix>
"""


def logon_with_blob(blob: bytes) -> bytes:
    # Built by hand: encode() only lets SOH into the data fields it pairs by default.
    body = b"35=A\x0149=CLIENT\x0156=VENUE\x0134=1\x01108=30\x01"
    body += b"20000=%d\x0120001=%s\x01" % (len(blob), blob)
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return head + body + b"10=%s\x01" % checksum(head + body)


@pytest.mark.parametrize("with_dictionary", [True, False])
def test_a_data_value_holding_soh_is_framed_whole_only_when_the_dictionary_pairs_it(
    tmp_path: Path, with_dictionary: bool
) -> None:
    path = tmp_path / "blob.xml"
    path.write_text(BLOB_XML)
    dictionary = FixDictionary.from_xml(path) if with_dictionary else None
    assert dictionary is None or dictionary.data_pairs == {20000: 20001}
    config = SessionConfig("VENUE", "CLIENT", role=Role.ACCEPTOR, heartbeat_interval_s=30)
    session = Session(config, clock=ManualClock(), dictionary=dictionary)
    session.connection_made()
    session.data_received(logon_with_blob(b"a\x01b=c"))
    if with_dictionary:
        assert (session.stats["messages_in"], session.stats["garbled"]) == (1, 0)
    else:  # the default pairs do not know 20000: "b=c" reads as a field with a bad tag
        assert (session.stats["messages_in"], session.stats["garbled"]) == (0, 1)
