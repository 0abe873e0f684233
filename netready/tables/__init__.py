"""Facts both sides need: the probes (measure) and the evaluators (judge) read them here, so neither imports
the other and each fact has one home. Pure data and pure functions over saved values; nothing here opens a
socket or imports netready.probes (tests/test_layering.py walks the imports).

    tls    versions, suites, groups, classify(), Mozilla "intermediate", the BP-TLS-VULNS sub-checks
    dns    the wording of a DNS answer the judge reads back (stray datagrams discarded)
    web    the one Location parser, host/port of a page URL, the class of an IPv6 address
"""
