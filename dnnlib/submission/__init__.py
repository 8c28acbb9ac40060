"""Local "submission" of runs: numbered run directories, logs, and the run context of a running job."""

from . import run_context
from . import submit
