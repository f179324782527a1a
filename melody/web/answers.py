"""Every request gets an answer it can show: what was wrong with it, in one sentence, and one short
line in the log; never ``{"error": null}`` and a traceback.

Gradio checks a request's values before our functions see them (how many there are, their types,
whether a file was uploaded to this server), and answers a failed check, or any exception that is
not a ``gr.Error``, with an empty error and a traceback in the log. ``Page`` (the page's
``gr.Blocks``) turns those into messages. Mistakes inside our functions are ``MelodyError`` and are
answered where they happen (``catching``: as a message on the page, ``user_errors``, or next to the
input that caused it, ``beside``); anything else is a bug, answered with a sentence that says so and
logged as one line that says where.
"""
import functools
import inspect
import logging
import re
import traceback
from pathlib import Path

import gradio as gr
from gradio.exceptions import InvalidPathError

from ..errors import MelodyError

log = logging.getLogger("melody")
SERVER_ERROR = ("Something went wrong on the server with this request (it is logged). Try again; if it happens "
                "again, try other settings or another seed.")


def parameter_names(block_fn):
    """The names of an event's inputs, from its function's signature (``gr.Request`` left out)."""
    fn = getattr(block_fn, "fn", None)
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.annotation is not gr.Request and p.name != "request"]


def endpoint(block_fn):
    api_name = getattr(block_fn, "api_name", None)
    return f"/{api_name}" if api_name else "this page's event"


def request_problem(block_fn, inputs, exc):
    """What was wrong with a request Gradio refused before calling our function, in one sentence."""
    names = parameter_names(block_fn)
    wanted = len(block_fn.inputs)
    if len(inputs) < wanted:
        listed = f": {', '.join(names)}" if len(names) == wanted else ""
        return (f"{endpoint(block_fn)} takes {wanted} values{listed}; this request sent {len(inputs)}. Send them all, "
                "or call it by name with gradio_client (client.predict(seed_notes='C4 D4 E4', api_name='/generate')).")
    if isinstance(exc, InvalidPathError):
        return ("A file in this request was never uploaded to this server, or is gone (uploads are kept for an hour): "
                "upload it first (gradio_client: handle_file(path)) and send what the upload returned.")
    where = _input_of(exc, block_fn, names, inputs)
    return (f"{where} of {endpoint(block_fn)} is not a value it takes: send a file from an upload for a file, a number "
            "for a number, text for text.")


def _input_of(exc, block_fn, names, inputs):
    """``"Input 3 (temperature)"``: the input Gradio's processing error names, or the first whose value
    its component's data model refuses; ``"An input"`` when neither tells."""
    found = re.search(r"input component at index (\d+)", str(exc))
    index = int(found.group(1)) if found else None
    for i, (block, value) in enumerate(zip(block_fn.inputs, inputs)):
        model = getattr(block, "data_model", None)
        if index is None and model is not None and value is not None:
            try:
                model.model_validate(value, context={"validate_meta": True})
            except Exception:
                index = i
    if index is None:
        return "An input"
    return f"Input {index}" + (f" ({names[index]})" if index < len(names) else "")


def describe_bug(exc):
    """One line for the log about an unexpected exception: its type, its text and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:200]}{where}"


def plain(text):
    """``text`` shown as it is in a ``gr.Markdown``: ``C5*10 D5*3`` stays that, not ``C510 D53`` in italics."""
    return re.sub(r"([\\`*_\[\]<>#~|])", r"\\\1", str(text))


def warning(exc):
    return f"⚠️ {plain(str(exc)[:600])}"


def catching(fn, handle):
    """``fn`` with a ``MelodyError`` (bad file, note or setting: the user's, not a bug) logged as one
    short line, not a traceback, and handed to ``handle``, whose result is returned. Any other error
    is a bug: logged as one line that says where, and handed on as a ``MelodyError`` that says so."""

    def answer(exc):
        if isinstance(exc, MelodyError):
            log.info("user error in %s: %s", fn.__name__, exc)
            return handle(exc)
        log.warning("server error in %s: %s", fn.__name__, describe_bug(exc))
        return handle(MelodyError(SERVER_ERROR))

    if inspect.isgeneratorfunction(fn):  # an event that sends its outputs in stages (Gradio streams them)
        @functools.wraps(fn)
        def stages(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                yield answer(exc)

        return stages

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            return answer(exc)

    return wrapper


def user_errors(fn):
    """Show a MelodyError as a message on the page (a toast)."""

    def toast(exc):
        raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None

    return catching(fn, toast)


def beside(fn, outputs, message):
    """``fn`` with a ``MelodyError`` shown in the Markdown ``message`` (one of ``outputs``, placed next to
    the input that caused it) and every other output left as it was: no red badges, nothing blanked."""
    where = outputs.index(message)
    return catching(fn, lambda exc: [warning(exc) if i == where else gr.skip() for i in range(len(outputs))])


class Page(gr.Blocks):
    """The page's ``gr.Blocks``: a request Gradio refuses, or an error no handler caught, is answered
    with a message (``gr.Error``) and logged as one line."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as exc:
            message = request_problem(block_fn, inputs, exc)
            log.info("bad request to %s: %s", endpoint(block_fn), message)
            raise gr.Error(message, title="Bad request", print_exception=False) from None

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        try:
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except MelodyError as exc:  # a user's mistake no handler of the event turned into a message
            log.info("user error in %s: %s", endpoint(block_fn), exc)
            raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None
        except Exception as exc:
            log.warning("server error in %s: %s", endpoint(block_fn), describe_bug(exc))
            raise gr.Error(SERVER_ERROR, title="Server error", print_exception=False) from None
