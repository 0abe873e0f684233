"""netready: probe, judge, report and remediate portals against Circular 32/2017/TT-BTTTT."""

try:  # written by the build from git metadata (setuptools-scm; pyproject.toml)
    from netready._version import __version__
except ImportError:  # a source tree that was never built or installed
    __version__ = "0+unknown"


def version_line() -> str:
    """What `netready --version` prints (netready/entry.py answers it; cli.py's option too)."""
    return f"netready {__version__}"
