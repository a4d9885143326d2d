"""Errors that end a command with one line for the admin instead of a traceback."""


class UserError(Exception):
    """Something the admin can fix; the message says what and where, in one line."""

    exit_code = 2
