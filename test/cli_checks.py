"""How a CLI error must look, shared by the bad-input tests: one line, exit 2, no traceback."""

from __future__ import annotations

import pytest

from oneshot_ros import cli


def one_line_error(capsys, argv, *messages: str) -> str:
    """`oneshot-ros argv` exits 2 with one stderr line holding `messages`; returns stdout."""
    assert cli.main([str(a) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"oneshot-ros {argv[0]}: error: "), err
    assert all(message in err for message in messages), err
    return out


def argparse_error(capsys, argv, message: str) -> None:
    """argparse refuses `argv`: exit 2, `message` on stderr after its usage."""
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(a) for a in argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
