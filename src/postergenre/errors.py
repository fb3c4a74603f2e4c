"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input a user can fix (a missing file, an unknown column, a broken bundle)."""
