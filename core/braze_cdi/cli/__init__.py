"""The ``braze-cdi`` command line: list integrations and jobs, sync, serve a fake, run a demo.

``main`` is the console script's entry point; the commands are in ``app``. Importing
``braze_cdi`` never imports this package (nor typer and rich).
"""

from .app import main

__all__ = ["main"]
