"""Loaded by the fork server that starts cohort worker processes, and by nothing else.

The fork server is a child of the run; each worker it starts asks to end with it. So that
the workers end when the run ends, even when it is killed outright (``kill -9``), the fork
server asks Linux to end it when the run ends (the workers hold a pipe that would keep it
waiting), first of all, so that it never outlives a run that ends while it starts.
Importing gabacalc.cohort_io here means each worker starts with gabacalc loaded already.
"""

import signal
import sys

if sys.platform == "linux":
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

import gabacalc.cohort_io  # noqa: F401 - loaded once here, shared by every worker
