"""Loaded by the fork server that starts cohort worker processes, and by nothing else.

The fork server is a child of the run; each worker it starts asks to end with it. So that
the workers end when the run ends, even when it is killed outright (``kill -9``), the fork
server asks Linux to end it when the run ends (the workers hold a pipe that would keep it
waiting), first of all, so that it never outlives a run that ends while it starts.
Importing gabacalc.files.cohort_io (the run and every module it joins, the pool among them)
here means each worker starts with gabacalc loaded already.
The fork server and its workers write nothing to stderr (see below).
"""

import os
import signal
import sys

if sys.platform == "linux":
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

# A worker never writes to the terminal: its results and errors go back to the run, which
# reports a failed worker as one "Error:" line. A signal that stops the run while a worker
# is still starting would otherwise let multiprocessing print that worker's traceback.
# GABACALC_WORKER_STDERR=1 keeps the workers' stderr (for debugging gabacalc itself).
if not os.environ.get("GABACALC_WORKER_STDERR"):
    _devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(_devnull, 2)
    os.close(_devnull)

import gabacalc.files.cohort_io  # noqa: F401 - loaded once here, shared by every worker
