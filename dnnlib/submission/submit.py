"""submit_run: run a function by name inside a fresh numbered run dir (`results/00012-desc/`).

The run dir receives `submit_config.pkl` / `.txt` (the configuration), `run.txt` (how it was started),
`log.txt` (everything printed to stdout and stderr), `src/` (a copy of the source code unless
`local.do_not_copy_source_files`) and `_finished.txt` when the function returns.
"""

import copy
import enum
import getpass
import inspect
import os
import pickle
import platform
import pprint
import re
import shlex
import sys
import time
import traceback

from .. import util
from . import internal
from .run_context import RunContext


class SubmitTarget(enum.Enum):
    """Where a run executes. Only LOCAL (this process) exists."""
    LOCAL = 1


class PathType(enum.Enum):
    """Path flavour for `convert_path`; AUTO means that of the current platform."""
    WINDOWS = 1
    LINUX = 2
    AUTO = 3


class PlatformExtras(object):
    """Values used by data-reading heuristics of some platforms (kept for pickle compatibility)."""

    def __init__(self):
        self.data_reader_buffer_size = 1 << 30  # 1 GiB
        self.data_reader_process_count = 0      # 0 = no data-reader processes


_user_name_override = None


class SubmitConfig(util.EasyDict):
    """Everything `submit_run` needs to know, plus what it fills in (run_id, run_dir, ...).

    Set by the caller: run_dir_root (where numbered run dirs go; "<USERNAME>" is replaced),
    run_desc (suffix of the run dir name), run_dir_ignore (fnmatch patterns not copied to src/),
    run_dir_extra_files (extra (source, path under src/) pairs), submit_target, num_gpus,
    print_info (print the config before running), nvprof (unused), local (TargetOptions with
    do_not_copy_source_files), datasets (unused).
    Filled in by submit_run: run_id, run_name, run_dir, run_func_name, run_func_kwargs, user_name,
    task_name, host_name.
    """

    def __init__(self):
        super().__init__()

        # Set by the caller.
        self.run_dir_root = ""
        self.run_desc = ""
        self.run_dir_ignore = ["__pycache__", "*.pyproj", "*.sln", "*.suo", ".cache", ".idea", ".vs",
                               ".vscode", "_cudacache", ".git", ".venv*", ".pytest_cache", ".stylegan2-cache",
                               "results"]
        self.run_dir_extra_files = []
        self.submit_target = SubmitTarget.LOCAL
        self.num_gpus = 1
        self.print_info = False
        self.nvprof = False
        self.local = internal.local.TargetOptions()
        self.datasets = []

        # Filled in by submit_run.
        self.run_id = None
        self.run_name = None
        self.run_dir = None
        self.run_func_name = None
        self.run_func_kwargs = None
        self.user_name = None
        self.task_name = None
        self.host_name = "localhost"
        self.platform_extras = PlatformExtras()


def set_user_name_override(name: str) -> None:
    """Use `name` instead of the login name (for "<USERNAME>" and task names)."""
    global _user_name_override
    _user_name_override = name


def get_user_name() -> str:
    """The login name of the current user ("unknown" when it cannot be found, e.g. in some containers)."""
    if _user_name_override is not None:
        return _user_name_override
    if platform.system() != "Windows":
        try:
            import pwd
            return pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError):
            pass
    try:
        return getpass.getuser()
    except Exception:  # getpass raises different errors on different platforms.
        return "unknown"


def _resolve_path_type(path_type: PathType) -> PathType:
    if path_type == PathType.AUTO:
        return PathType.WINDOWS if platform.system() == "Windows" else PathType.LINUX
    if path_type not in (PathType.WINDOWS, PathType.LINUX):
        raise ValueError("unknown path type %r" % (path_type,))
    return path_type


def convert_path(path: str, path_type: PathType = PathType.AUTO) -> str:
    """Use the separators of `path_type` ("\\" for WINDOWS, "/" for LINUX)."""
    path_type = _resolve_path_type(path_type)
    if path_type == PathType.WINDOWS:
        return path.replace("/", "\\")
    return path.replace("\\", "/")


def get_path_from_template(path_template: str, path_type: PathType = PathType.AUTO) -> str:
    """Replace "<USERNAME>" by the user name and convert the separators to `path_type`."""
    path = path_template.replace("<USERNAME>", get_user_name())
    return convert_path(path, path_type)


def make_run_dir_path(*paths: str) -> str:
    """`os.path.join(<run dir of the active run>, *paths)`; the current directory when no run is active."""
    import dnnlib  # The package imports this module: import it when called, not at load time.
    submit_config = dnnlib.submit_config
    if submit_config is None or submit_config.run_dir is None:
        return os.path.join(os.getcwd(), *paths)
    return os.path.join(submit_config.run_dir, *paths)


def _get_next_run_id_local(run_dir_root: str) -> int:
    """1 + the largest numeric prefix of the directories in run_dir_root; 0 when there are none."""
    run_ids = []
    for name in os.listdir(run_dir_root):
        match = re.match(r"^\d+", name)
        if match and os.path.isdir(os.path.join(run_dir_root, name)):
            run_ids.append(int(match.group()))
    return max(run_ids) + 1 if run_ids else 0


def _create_run_dir_local(submit_config: SubmitConfig) -> str:
    """Create `<run_dir_root>/<id>-<run_desc>` with the next free id; sets run_id and run_name."""
    if not submit_config.run_dir_root:
        raise ValueError("SubmitConfig.run_dir_root is empty: set it to the folder for run dirs, e.g. 'results'")
    run_dir_root = get_path_from_template(submit_config.run_dir_root, PathType.AUTO)
    os.makedirs(run_dir_root, exist_ok=True)

    run_id = _get_next_run_id_local(run_dir_root)
    while True:
        run_name = "%05d-%s" % (run_id, submit_config.run_desc)
        run_dir = os.path.join(run_dir_root, run_name)
        try:
            os.makedirs(run_dir, exist_ok=False)  # Fails if another process took this id meanwhile.
            break
        except FileExistsError:
            run_id = max(run_id + 1, _get_next_run_id_local(run_dir_root))

    submit_config.run_id = run_id
    submit_config.run_name = run_name
    return run_dir


def _is_inside(path: str, dir_path: str) -> bool:
    path = os.path.abspath(path)
    dir_path = os.path.abspath(dir_path)
    return path == dir_path or path.startswith(dir_path.rstrip(os.sep) + os.sep)


def _populate_run_dir(submit_config: SubmitConfig, run_dir: str) -> None:
    """Copy the source code into `<run_dir>/src` and write the configuration files."""
    if not submit_config.local.do_not_copy_source_files:
        # The whole tree of the run function's top-level package ("training.training_loop.f" -> the
        # folder holding training/), plus dnnlib itself and the extra files.
        func_name = submit_config.run_func_name
        source_dir = util.get_module_dir_by_obj_name(func_name)
        for _ in range(func_name.count(".") - 1):
            source_dir = os.path.dirname(source_dir)
        files = util.list_dir_recursively_with_ignore(source_dir, ignores=submit_config.run_dir_ignore)
        dnnlib_dir = util.get_module_dir_by_obj_name("dnnlib")
        files += util.list_dir_recursively_with_ignore(dnnlib_dir, ignores=submit_config.run_dir_ignore,
                                                       add_base_to_relative=True)
        files += list(submit_config.run_dir_extra_files)

        # Results usually live inside the source tree: never copy run dirs (this one included).
        run_dir_root = os.path.dirname(os.path.abspath(run_dir))
        copies = {}
        for src, rel_path in files:
            if not _is_inside(src, run_dir_root):
                copies[os.path.join(run_dir, "src", rel_path)] = src
        util.copy_files_and_create_dirs([(src, dst) for dst, src in sorted(copies.items())])

    with open(os.path.join(run_dir, "submit_config.pkl"), "wb") as f:
        pickle.dump(submit_config, f)
    with open(os.path.join(run_dir, "submit_config.txt"), "w") as f:
        pprint.pprint(submit_config, stream=f, indent=4, width=200, compact=False)
    with open(os.path.join(run_dir, "run.txt"), "w") as f:
        f.write("command: %s\n" % " ".join(shlex.quote(arg) for arg in [sys.executable] + sys.argv))
        f.write("cwd: %s\n" % os.getcwd())
        f.write("run_func_name: %s\n" % submit_config.run_func_name)
        f.write("run_dir: %s\n" % run_dir)
        f.write("started: %s\n" % time.strftime("%Y-%m-%d %H:%M:%S"))


def run_wrapper(submit_config: SubmitConfig) -> SubmitConfig:
    """Call the run function with log.txt capturing the output; always clean up, even on errors."""
    import dnnlib  # The package imports this module: import it when called, not at load time.

    logger = util.Logger(file_name=os.path.join(submit_config.run_dir, "log.txt"), file_mode="w",
                         should_flush=True)
    previous_submit_config = dnnlib.submit_config
    dnnlib.submit_config = submit_config
    try:
        print("dnnlib: Running {0}() on {1}...".format(submit_config.run_func_name, submit_config.host_name))
        start_time = time.time()
        run_func = util.get_obj_by_name(submit_config.run_func_name)
        kwargs = dict(submit_config.run_func_kwargs)
        if "submit_config" in inspect.signature(run_func).parameters:
            kwargs["submit_config"] = submit_config
        run_func(**kwargs)
        print("dnnlib: Finished {0}() in {1}.".format(submit_config.run_func_name,
                                                     util.format_time(time.time() - start_time)))
    except BaseException:
        # The caller sees the exception; the log file gets the traceback too.
        logger.write_to_file(traceback.format_exc())
        raise
    finally:
        open(os.path.join(submit_config.run_dir, "_finished.txt"), "w").close()
        context = RunContext.get()
        if context is not None:
            context.close()
        dnnlib.submit_config = previous_submit_config
        logger.close()
    return submit_config


def submit_run(submit_config: SubmitConfig, run_func_name: str, **run_func_kwargs) -> SubmitConfig:
    """Create the next numbered run dir under `submit_config.run_dir_root` and run
    `run_func_name(**run_func_kwargs)` there (plus `submit_config=` if the function takes it).

    During the run `dnnlib.submit_config` is the filled-in copy of `submit_config`, which is returned.
    """
    submit_config = copy.deepcopy(submit_config)
    if not submit_config.num_gpus:
        raise ValueError("submit_run: SubmitConfig.num_gpus must be non-zero, got %r" % (submit_config.num_gpus,))
    if submit_config.submit_target != SubmitTarget.LOCAL:
        raise ValueError("submit_run: unsupported submit target %r (only SubmitTarget.LOCAL)"
                         % (submit_config.submit_target,))
    # Fail before creating a run dir if the function cannot be found or the arguments not saved.
    run_func = util.get_obj_by_name(run_func_name)
    if not callable(run_func):
        raise TypeError("submit_run: %r is not callable" % run_func_name)
    if not util.is_pickleable(run_func_kwargs):
        raise TypeError("submit_run: the keyword arguments of %s cannot be pickled into submit_config.pkl"
                        % run_func_name)
    target = internal.local.Target()

    if submit_config.user_name is None:
        submit_config.user_name = get_user_name()
    submit_config.run_func_name = run_func_name
    submit_config.run_func_kwargs = run_func_kwargs

    host_run_dir = _create_run_dir_local(submit_config)
    submit_config.task_name = "{0}-{1:05d}-{2}".format(submit_config.user_name, submit_config.run_id,
                                                       submit_config.run_desc)
    target.finalize_submit_config(submit_config, host_run_dir)
    _populate_run_dir(submit_config, host_run_dir)

    if submit_config.print_info:
        print("\nSubmit config:\n")
        pprint.pprint(submit_config, indent=4, width=200, compact=False)
        print()

    return target.submit(submit_config, host_run_dir)
