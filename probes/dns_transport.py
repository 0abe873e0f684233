"""Sending one DNS question and reading its answer, with the least work per question.

dnspython renders and parses the messages; this module only moves bytes, because a national batch asks
about fifty questions per portal and three costs dominated when dns.query did the moving:
- rendering the same question again for every server (the rendered question is kept, only the ID changes);
- a new selector (epoll) per question (a plain socket timeout does the same job here);
- parsing the same answer again: the per-server checks ask every address of every name server the same
  SOA and DNSKEY questions over UDP and TCP, and the servers of one zone nearly always answer with the
  same bytes. An answer whose bytes (ID aside) were parsed moments ago is the same read-only Message.

Answers are checked as dns.query checks them: from the address asked (a connected UDP socket), same ID,
QR set, same opcode and question (or no question at all in an error answer). Parse errors raise as
dns.message.from_wire raises them, so callers report garbage exactly as before.
"""

from __future__ import annotations

import secrets
import socket
import struct
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode

from netready.probes.runcache import MAX_TTL, RunCache
from netready.tables.dns import STRAYS_DISCARDED

PORT = 53
MAX_UDP = 65535
QUESTION_CACHE_SIZE = 512  # rendered questions: ~100 bytes each
ANSWER_CACHE_SIZE = 128  # parsed answers: enough for the per-server checks of the targets in flight
RETRANSMIT_AT = 0.5  # the one UDP retransmission goes out when this share of the timeout has passed
_HEADER = 12
_ERROR_RCODES = {dns.rcode.FORMERR, dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED}


class BadResponse(dns.exception.FormError):
    """The bytes came from the server asked, but they do not answer this question."""


# Bounded LRU maps (runcache.RunCache); a rendered question never goes stale, a parsed answer is only
# looked for moments after the same bytes came, so the TTL is simply the longest the class allows.
_QUESTIONS = RunCache(QUESTION_CACHE_SIZE)
_ANSWERS = RunCache(ANSWER_CACHE_SIZE)


def question_wire(qname: dns.name.Name | str, rdtype: int | str, dnssec: bool, recursion: bool) -> bytes:
    """The rendered question with ID 0: EDNS0, 1232-byte payload (DNS flag day 2020), DO when dnssec;
    without recursion RD is clear, with it RD and CD are set (netready validates, not the resolver)."""
    key = (qname, rdtype, dnssec, recursion)
    wire = _QUESTIONS.get(key)
    if wire is None:
        q = dns.message.make_query(qname, rdtype, want_dnssec=dnssec, use_edns=0, payload=1232)
        q.id = 0
        if not recursion:
            q.flags &= ~dns.flags.RD
        else:
            q.flags |= dns.flags.RD | dns.flags.CD
        wire = q.to_wire()
        _QUESTIONS.put(key, wire, MAX_TTL)
    return wire  # type: ignore[return-value]


def _with_new_id(wire: bytes) -> bytes:
    return secrets.token_bytes(2) + wire[2:]


def _question_end(wire: bytes) -> int:
    """Offset just past the (single) question section of a message."""
    i = _HEADER
    while True:
        length = wire[i]
        if length == 0:
            return i + 1 + 4
        if length & 0xC0:  # a compression pointer cannot start a question name of a query we wrote
            return i + 2 + 4
        i += 1 + length


def _check(query: bytes, answer: bytes) -> None:
    """Raise BadResponse unless `answer` is the answer to `query` (dns.message.Message.is_response)."""
    if len(answer) < _HEADER:
        raise dns.message.ShortHeader
    if answer[:2] != query[:2]:
        raise BadResponse("answer with another message ID")
    flags = struct.unpack("!H", answer[2:4])[0]
    if not flags & dns.flags.QR:
        raise BadResponse("a query, not an answer")
    if dns.opcode.from_flags(flags) != dns.opcode.from_flags(struct.unpack("!H", query[2:4])[0]):
        raise BadResponse("answer with another opcode")
    qdcount = struct.unpack("!H", answer[4:6])[0]
    if qdcount == 0 and (flags & 0xF) in _ERROR_RCODES:
        return
    end = _question_end(query)
    if qdcount != 1 or answer[_HEADER:end].lower() != query[_HEADER:end].lower():
        raise BadResponse("the answer does not repeat the question (garbage, or an answer to another question)")


def parse(wire: bytes) -> dns.message.Message:
    """The parsed answer; the same object for the same bytes (ID aside) seen moments ago. Read-only."""
    key = wire[2:]
    msg = _ANSWERS.get(key)
    if msg is None:
        msg = dns.message.from_wire(wire)
        _ANSWERS.put(key, msg, MAX_TTL)
    return msg  # type: ignore[return-value]


def _family(server: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in server else socket.AF_INET


class StrayTimeout(dns.exception.Timeout):
    """No answer in time, but datagrams that were not the answer came and were discarded."""

    def __init__(self, discarded: list[str]) -> None:
        super().__init__()
        self.discarded = discarded

    def note(self) -> str:
        kinds = sorted(set(self.discarded))
        return f"{len(self.discarded)} datagram(s) {STRAYS_DISCARDED} ({'; '.join(kinds)})"


def udp(query: bytes, server: str, timeout: float) -> bytes:
    """One UDP exchange within `timeout`; answers from elsewhere never reach a connected socket.

    A datagram that is not the answer (another message ID, another question, not a response: a stray, a
    late answer to someone else, a spoofing attempt; RFC 5452 §9.1) is discarded and the wait goes on,
    as dns.query does with ignore_unexpected. The question is sent once more (same ID, so a late first
    answer still counts) when half the time has passed without an answer: one lost datagram is not a
    dead server. Raises dns.exception.Timeout (StrayTimeout when strays came) or OSError."""
    start = time.monotonic()
    deadline = start + timeout
    resend_at = start + timeout * RETRANSMIT_AT
    query = _with_new_id(query)
    discarded: list[str] = []
    with socket.socket(_family(server), socket.SOCK_DGRAM) as sock:
        sock.connect((server, PORT))
        sock.send(query)
        resent = False
        while True:
            now = time.monotonic()
            if not resent and now >= resend_at:
                sock.send(query)
                resent = True
            left = (deadline if resent else resend_at) - now
            if now >= deadline:
                raise StrayTimeout(discarded) if discarded else dns.exception.Timeout
            sock.settimeout(max(left, 0.0001))
            try:
                answer = sock.recv(MAX_UDP)
            except TimeoutError:
                continue
            try:
                _check(query, answer)
            except (BadResponse, dns.message.ShortHeader) as exc:
                discarded.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                continue
            return answer


def tcp(query: bytes, server: str, timeout: float) -> bytes:
    """One TCP exchange (2-byte length prefix, RFC 1035 §4.2.2), all of it within `timeout`."""
    deadline = time.monotonic() + timeout
    query = _with_new_id(query)
    with socket.socket(_family(server), socket.SOCK_STREAM) as sock:
        try:
            sock.settimeout(timeout)
            sock.connect((server, PORT))
            sock.sendall(struct.pack("!H", len(query)) + query)
            (length,) = struct.unpack("!H", _read(sock, 2, deadline))
            answer = _read(sock, length, deadline)
        except TimeoutError:
            raise dns.exception.Timeout from None
    _check(query, answer)
    return answer


def _read(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed before the whole answer came")
        buf += chunk
    return buf


def truncated(wire: bytes) -> bool:
    return bool(struct.unpack("!H", wire[2:4])[0] & dns.flags.TC)


def stats() -> dict[str, int]:
    return {"answers_reused": _ANSWERS.hits, "answers_parsed": _ANSWERS.misses, "questions_rendered": _QUESTIONS.misses}
