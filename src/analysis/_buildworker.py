"""Imported once by the fork server of a build's worker pool (``multiprocessing``'s
forkserver; see :func:`analysis.build._run_pool`): it prepares what every build worker needs
(nbclient, papermill, nbconvert's exporter and templates, the compiled output schemas,
jupyter_client's kernel specs and the machine's interfaces) before any worker is forked from it.

Each worker then starts prepared, instead of each doing the same 0.7-0.9 CPU-s of imports at
the start of a build, on the cores where the build's kernel server is importing its own
libraries at the same moment (every report waits for that server).
"""
from .build import _prepare_worker

_prepare_worker()
