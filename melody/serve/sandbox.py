"""Run untrusted work (reading an uploaded file) in a separate process with a time and memory limit,
so that no input can stall or exhaust the server."""
import multiprocessing
import resource

from ..errors import MidiError

# fork: the child starts at once with everything already imported (spawn would import torch again).
_CONTEXT = multiprocessing.get_context("fork")


def _address_space_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _child(connection, function, args, memory_bytes):
    try:
        limit = _address_space_bytes() + memory_bytes  # on top of what the forked server already maps
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        connection.send(("ok", function(*args)))
    except MemoryError:
        connection.send(("memory", None))
    except Exception as exc:  # handed to the parent, which re-raises it there
        connection.send(("error", exc))
    finally:
        connection.close()


def call_limited(function, *args, seconds=20.0, memory_bytes=1 << 30, what="reading the file"):
    """``function(*args)`` in a child process; its exceptions are re-raised here.

    Raises
    ------
    MidiError
        When the call takes longer than ``seconds`` or needs more than ``memory_bytes`` beyond
        what the process already uses.
    """
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child, args=(sender, function, args, memory_bytes), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise MidiError(f"Gave up {what} after {seconds:g} s: it is too large or too dense. Use a smaller file.")
        try:
            status, value = receiver.recv()
        except EOFError:
            status, value = "memory", None  # the child died without answering: killed for its memory use
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
    if status == "memory":
        raise MidiError(f"Gave up {what}: it needs more than {memory_bytes >> 20} MB of memory. Use a smaller file.")
    if status == "error":
        raise value
    return value
