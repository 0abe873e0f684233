"""netready: probe, judge, report and remediate portals against Circular 32/2017/TT-BTTTT."""

__version__ = "0.1.0"
