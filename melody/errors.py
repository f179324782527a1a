"""Exceptions raised for user mistakes: each message says what was wrong and what to do."""


class MelodyError(Exception):
    """Base class of every error this package raises on purpose."""


class MidiError(MelodyError):
    """A MIDI file could not be read, or holds no usable melody."""


class CheckpointError(MelodyError):
    """A checkpoint file is missing, corrupt, truncated or made by an incompatible version."""


class SeedError(MelodyError, ValueError):
    """A seed melody or a generation setting is not valid."""


class DataError(MelodyError):
    """A training folder holds no usable melodies."""


class DeviceError(MelodyError):
    """The device asked for (a CUDA GPU) is not available on this machine."""


class EncodingInterrupted(MelodyError):
    """Ctrl-C or SIGTERM stopped the encoding of training files; what was done is cached.

    ``signum`` is the signal's number, for the exit status (128 + ``signum``, as the shell reports
    a process a signal ended)."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum
