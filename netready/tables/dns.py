"""DNS wording that the transport writes and the judge reads back (netready.probes.dns_transport, evaluate/tls.py)."""

from __future__ import annotations

# How StrayTimeout.note says the server sent datagrams, none of them an answer (the judge reads it: a server
# that answers only garbage is a definitive failure, not a silence).
STRAYS_DISCARDED = "that did not answer the question discarded"
