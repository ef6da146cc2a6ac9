"""Errors the command line reports as one line with a chosen exit status."""

from __future__ import annotations

EXIT_FAILED = 1
"""The job ran but failed: damaged data, a download that could not finish."""

EXIT_BAD_INPUT = 2
"""Bad input or usage."""


class UserError(Exception):
    """An error whose message is meant for the user, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status
