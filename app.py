"""The melody playground page: draw, upload or type a seed, then hear an LSTM continue it.

    python app.py                 # http://127.0.0.1:7860
    python app.py --port 8000 --host 0.0.0.0 --share
    gradio app.py                 # the same, reloading when a file changes (Gradio's reload mode)

A thin shell: melody/web/launch.py starts the server (``main``) and makes the page, which
melody/web/page.py lays out; the work lives in melody/.
"""
import gradio as gr

from melody.web.launch import default_page, main, parse_args  # noqa: F401  (parse_args: for tests/test_app.py)

# The page, for Gradio's reload mode, which serves this module's `demo`: `gradio app.py` runs this
# file to serve the page, then runs it again in a watcher thread after every change, only to rebuild
# `demo` (there gr.NO_RELOAD is False): the server is running already. It is made once per import of
# melody.web (again after a change), and main() serves this same page.
demo = default_page()

if __name__ == "__main__" and gr.NO_RELOAD:
    main()
