"""The project's own error types: what the user can fix, as opposed to bugs.

`oneshot-ros` prints a UserError as one line and exits non-zero; any other exception is a bug and
keeps its traceback. The subclasses also derive from ValueError (or IndexError) so that library
callers that caught those before still do.
"""

from __future__ import annotations


class UserError(Exception):
    """Caused by the user's input or files; the message names the problem and the fix."""


class InputError(UserError, ValueError):
    """A bad argument, option, task string or configuration value."""


class FileFormatError(UserError, ValueError):
    """A file that is missing pieces, damaged, foreign or written by another version."""


class FileBusyError(UserError, ValueError):
    """Another live process is writing the file."""


class OutOfRangeError(UserError, IndexError):
    """An index beyond what a file holds (still an IndexError for sequence protocols)."""
