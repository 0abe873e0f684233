"""SSLv2 (DROWN, CVE-2016-0800): one real SSLv2 CLIENT-HELLO, the server's answer read by hand.

SSLv2 has its own record format (a 2- or 3-byte header with the length, no content type), so neither
scapy's TLS templates nor the TLS record reader apply. The hello offers the seven SSLv2 cipher kinds
of the Netscape specification plus RC4-64; a SERVER-HELLO answering version 2 means the server speaks
SSLv2 (even with an empty cipher list: OpenSSL before 1.0.2f still let clients pick a disabled cipher,
CVE-2015-3197, and DROWN only needs the protocol).
"""

from __future__ import annotations

import os
import time
from typing import Any

from netready.probes.tls_wire import ALERTS, Wire

CIPHER_KINDS: dict[int, str] = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5",
    0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
    0x080080: "SSL_CK_RC4_64_WITH_MD5",
}
MT_ERROR, MT_CLIENT_HELLO, MT_SERVER_HELLO = 0, 1, 4
ERRORS = {1: "NO-CIPHER-ERROR", 2: "NO-CERTIFICATE-ERROR", 4: "BAD-CERTIFICATE-ERROR",
          6: "UNSUPPORTED-CERTIFICATE-TYPE-ERROR"}  # fmt: skip


def client_hello(challenge: bytes | None = None) -> bytes:
    """CLIENT-HELLO: 2-byte header, type 1, version 0x0002, every cipher kind, no session id, 16-byte challenge."""
    challenge = challenge or os.urandom(16)
    specs = b"".join(k.to_bytes(3, "big") for k in CIPHER_KINDS)
    body = (bytes([MT_CLIENT_HELLO]) + (2).to_bytes(2, "big") + len(specs).to_bytes(2, "big")
            + (0).to_bytes(2, "big") + len(challenge).to_bytes(2, "big") + specs + challenge)
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def parse_answer(data: bytes) -> dict[str, Any]:
    """What a server's first bytes say about SSLv2. data holds at least the first record."""
    if len(data) >= 5 and data[0] == 21 and data[1] == 3:  # a TLS alert record: the server speaks TLS only
        name = ALERTS.get(data[6], f"alert {data[6]}") if len(data) >= 7 else "alert"
        return {"accepted": False, "answer": f"TLS alert {name}"}
    if not (len(data) >= 3 and data[0] & 0x80):  # a SERVER-HELLO has the 2-byte header (nothing to pad)
        return {"accepted": False, "answer": f"not SSLv2: {data[:8].hex()}"}
    body = data[2 : 2 + (((data[0] & 0x7F) << 8) | data[1])]
    if not body:
        return {"accepted": False, "answer": "empty SSLv2 record"}
    if body[0] == MT_ERROR and len(body) >= 3:
        code = int.from_bytes(body[1:3], "big")
        return {"accepted": False, "answer": f"SSLv2 ERROR {ERRORS.get(code, code)}"}
    if body[0] != MT_SERVER_HELLO or len(body) < 11:
        return {"accepted": False, "answer": f"SSLv2 message type {body[0]}, not SERVER-HELLO"}
    version = int.from_bytes(body[3:5], "big")
    cert_len, specs_len = int.from_bytes(body[5:7], "big"), int.from_bytes(body[7:9], "big")
    specs = body[11 + cert_len : 11 + cert_len + specs_len]
    kinds = [int.from_bytes(specs[i : i + 3], "big") for i in range(0, len(specs) - 2, 3)]
    if version != 2:
        return {"accepted": False, "answer": f"SERVER-HELLO with version {version:#06x}"}
    return {
        "accepted": True,
        "answer": "SSLv2 SERVER-HELLO",
        "ciphers": [CIPHER_KINDS.get(k, f"0x{k:06X}") for k in kinds],
        "certificate_bytes": cert_len,
    }


def probe(address: str, port: int, timeout: float) -> dict[str, Any]:
    """One connection: send CLIENT-HELLO, read the first record. accepted True/False, None when the
    connection itself failed. Silence counts as refused: SSLv2 servers always answer a CLIENT-HELLO, while
    TLS-only stacks and middleboxes often just wait for a TLS record that never comes."""
    t0 = time.monotonic()
    out: dict[str, Any]
    with Wire(address, port, t0 + timeout) as wire:
        try:
            wire.connect()
            wire.send(client_hello())
            if not wire.fill(3):
                out = {"accepted": False, "answer": "closed" if not wire.buf else "truncated"}
            else:
                head = wire.buf
                need = (((head[0] & 0x7F) << 8) | head[1]) + 2 if head[0] & 0x80 else 7
                try:
                    wire.fill(need)
                except (TimeoutError, ConnectionResetError):
                    pass  # a short answer still says what it is
                out = parse_answer(wire.buf)
        except TimeoutError:  # an SSLv2 server answers a CLIENT-HELLO at once (SERVER-HELLO or ERROR)
            out = {"accepted": False, "answer": f"no answer within {timeout:g} s: the server does not speak SSLv2"}
        except ConnectionResetError:
            out = {"accepted": False, "answer": "reset"}
        except OSError as exc:
            out = {"accepted": None, "answer": f"error: {exc.strerror or exc}"}
    out["ms"] = round((time.monotonic() - t0) * 1000, 3)
    return out
