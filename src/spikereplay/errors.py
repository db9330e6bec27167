"""Errors that the command line turns into one clear message and exit code 2."""


class SpikeReplayError(Exception):
    """Base class: a problem with the user's input, not a bug."""


class ConfigError(SpikeReplayError):
    """A config file or override that is unknown, mistyped or impossible."""


class DataError(SpikeReplayError):
    """Missing, corrupt or invalid data files."""


class DivergedError(SpikeReplayError):
    """Training produced a non-finite loss; the run stops with its last good checkpoint in place."""


def one_line(exc: BaseException) -> str:
    """``exc`` as its class name and its text on one line: a user's module may raise any error, with
    any text, and the command line's message stays one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
