"""The one exception the lab raises: a message that says exactly what is wrong or missing."""


class LabError(RuntimeError):
    """Lab cannot be brought up, queried or torn down (missing tool, not root, a daemon failed...)."""
