"""Names the dead-code check (vulture, `make lint`) must not report: the public API, which the package
exports for its users rather than calling itself, and names that libraries call (torch, logging, Gradio)."""
# ruff: noqa
__getattr__, __dir__  # melody/__init__.py: the lazy public API
cyclic_crops, notes_from_pitches, sampling_distribution, extract_melody  # documented functions for Python users
parse_notes, parse_timed_notes, notes_to_midi  # exported by melody/__init__.py
saved_because, encoder_version, notes_under_melody, log_evidence  # dataclass fields read by users and benchmarks
FROM_THE_TOP  # the echo's "lag" back to the first bar, for tests and readers of the weights
forward  # torch.nn.Module
exc_info, exc_text  # logging.LogRecord, cleared so a user error logs one line
preprocess  # gradio components
demo  # app.py: the page Gradio's reload mode (`gradio app.py`) serves
