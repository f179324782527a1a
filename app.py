"""The melody playground page: draw, upload or type a seed, then hear an LSTM continue it.

    python app.py                 # http://127.0.0.1:7860
    python app.py --port 8000 --host 0.0.0.0 --share
    gradio app.py                 # the same, reloading when a file changes (Gradio's reload mode)

A thin shell: the page is built in melody/web/page.py (``demo``), the work lives in melody/.
"""
import gradio as gr

from melody.web.page import build, demo, main, parse_args  # noqa: F401  (demo: for Gradio's reload mode)

# `gradio app.py` runs this file to serve the page, then runs it again in a watcher thread after
# every change, only to rebuild `demo` (there gr.NO_RELOAD is False): the server is running already.
if __name__ == "__main__" and gr.NO_RELOAD:
    main()
