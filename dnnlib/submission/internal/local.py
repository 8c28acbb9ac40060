"""The local submission target: runs the function in this process."""

from ... import util


class TargetOptions(util.EasyDict):
    """Options of the local target (`SubmitConfig.local`)."""

    def __init__(self):
        super().__init__()
        self.do_not_copy_source_files = False


class Target(object):
    """Runs a submitted function right here, in the current process."""

    def finalize_submit_config(self, submit_config, host_run_dir: str) -> None:
        """Fill in what the target decides: the run dir as seen by the running function."""
        submit_config.run_dir = host_run_dir

    def submit(self, submit_config, host_run_dir: str):
        """Run now; returns what `run_wrapper` returns."""
        from ..submit import run_wrapper  # submit.py imports this module, so import lazily.
        return run_wrapper(submit_config)
