"""RunContext: what a running job asks its run dir (should it stop? how long has it run?)."""

import os
import time

from .. import util


class RunContext(object):
    """Bookkeeping of the active run. Created by the run function, e.g.
    `ctx = dnnlib.RunContext(dnnlib.submit_config, train)`; closed at the end (or used with `with`).

    Writing a file `abort.txt` into the run dir asks the run to stop: `should_stop()` becomes True.
    Closing writes `_finished.txt`, or `_failed.txt` when the `with` block ended with an exception.
    """

    _current = None  # The most recently created context that is not closed yet.
    # Run dirs of runs that submit_run is executing: it writes their end marker itself, once it knows how
    # the run function ended (a context closed in a `finally` cannot tell success from failure).
    managed_run_dirs = set()

    def __init__(self, submit_config, config_module=None):
        self.submit_config = submit_config
        self.config_module = config_module
        self.start_time = self.last_update_time = time.time()
        self.last_update_interval = 0.0
        self.last_loss, self.cur_epoch, self.max_epoch = "", 0, 0
        self.should_stop_flag = self.has_closed = False
        RunContext._current = self

    @staticmethod
    def get():
        """The active (not yet closed) RunContext, or None."""
        return RunContext._current

    def __enter__(self) -> "RunContext":
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self.close(error=exc_value)

    def _run_dir_path(self, file_name):
        run_dir = getattr(self.submit_config, "run_dir", None) if self.submit_config is not None else None
        return None if run_dir is None else os.path.join(run_dir, file_name)

    def _abort_requested(self) -> bool:
        abort_path = self._run_dir_path("abort.txt")
        return abort_path is not None and os.path.exists(abort_path)

    def update(self, loss="", cur_epoch=0, max_epoch=0) -> None:
        """Record progress; call once in a while (e.g. every training tick), not in a tight loop."""
        previous_update = self.last_update_time
        self.last_update_time = time.time()
        self.last_update_interval = self.last_update_time - previous_update
        self.last_loss, self.cur_epoch, self.max_epoch = loss, cur_epoch, max_epoch
        self.should_stop()  # Looks for abort.txt now, so that the flag is current after every update.

    def get_last_update_interval(self) -> float:
        """Seconds between the last two `update()` calls."""
        return self.last_update_interval

    def should_stop(self) -> bool:
        """True once `<run_dir>/abort.txt` has appeared (and from then on)."""
        self.should_stop_flag = self.should_stop_flag or self._abort_requested()
        return self.should_stop_flag

    @staticmethod
    def _seconds_since(moment: float) -> float:
        return time.time() - moment

    def get_time_since_start(self) -> float:
        """Seconds since the context was created."""
        return self._seconds_since(self.start_time)

    def get_time_since_last_update(self) -> float:
        """Seconds since the last `update()` (or the creation)."""
        return self._seconds_since(self.last_update_time)

    def close(self, error=None) -> None:
        """Mark the run ended: `<run_dir>/_finished.txt`, or `_failed.txt` holding the one-line `error`.

        Inside submit_run the marker is left to submit_run, which knows how the run function ended.
        Safe to call twice."""
        if not self.has_closed:
            self.has_closed = True
            run_dir = self._run_dir_path("")
            if run_dir is not None and os.path.abspath(run_dir) not in RunContext.managed_run_dirs:
                write_end_marker(run_dir, error)
        if RunContext._current is self:
            RunContext._current = None


def write_end_marker(run_dir, error=None) -> None:
    """`_finished.txt` in `run_dir` for a run that succeeded; `_failed.txt` with the one-line error (and no
    `_finished.txt`) for one that raised `error`. Nothing when `run_dir` does not exist."""
    if not os.path.isdir(run_dir):
        return
    finished_path = os.path.join(run_dir, "_finished.txt")
    if error is None:
        open(finished_path, "w").close()
        return
    with open(os.path.join(run_dir, "_failed.txt"), "w") as f:
        f.write(util.error_line(error) + "\n")
    if os.path.exists(finished_path):
        os.remove(finished_path)
