"""submit_run: run a function by name inside a fresh numbered run dir (`results/00012-desc/`).

The run dir receives `submit_config.pkl` / `.txt` (the configuration), `run.txt` (how it was started),
`log.txt` (everything printed to stdout and stderr), `src/` (a copy of the source code unless
`local.do_not_copy_source_files`), and at the end `_finished.txt` when the function returned, or
`_failed.txt` holding the one-line error when it raised (the exception then reaches the caller).
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
from .run_context import RunContext, write_end_marker


class SubmitTarget(enum.Enum):
    """Where a run executes. Only LOCAL (this process) exists."""
    LOCAL = 1


class PathType(enum.Enum):
    """Path flavour for `convert_path`; AUTO means that of the current platform."""
    WINDOWS = 1
    LINUX = 2
    AUTO = 3


class PlatformExtras(object):
    """Values used by data-reading heuristics of some platforms (kept for pickle compatibility).

    The reader buffer is 1 GiB by default; a process count of 0 means no separate reader processes.
    """

    def __init__(self, data_reader_buffer_size: int = 1 << 30, data_reader_process_count: int = 0):
        self.data_reader_buffer_size = data_reader_buffer_size
        self.data_reader_process_count = data_reader_process_count


def _caller_settings() -> dict:
    """SubmitConfig fields that the caller sets, with their defaults (fresh mutable values each time)."""
    ignored_names = ["__pycache__", "*.pyproj", "*.sln", "*.suo", ".cache", ".idea", ".vs", ".vscode",
                     "_cudacache", ".git", ".venv*", ".pytest_cache", ".stylegan2-cache", "results"]
    return dict(
        run_dir_root="",
        run_desc="",
        run_dir_ignore=ignored_names,
        run_dir_extra_files=[],
        submit_target=SubmitTarget.LOCAL,
        num_gpus=1,
        print_info=False,
        nvprof=False,
        local=internal.local.TargetOptions(),
        datasets=[],
    )


# SubmitConfig fields that submit_run fills in; None until then.
_FILLED_IN_BY_SUBMIT_RUN = ("run_id", "run_name", "run_dir", "run_func_name", "run_func_kwargs",
                            "user_name", "task_name")


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
        self.update(_caller_settings())
        self.update(dict.fromkeys(_FILLED_IN_BY_SUBMIT_RUN))
        self.update(host_name="localhost", platform_extras=PlatformExtras())


_user_name_override = None  # Set through set_user_name_override(); None = ask the system.


def set_user_name_override(name: str) -> None:
    """Use `name` instead of the login name from now on, for "<USERNAME>" in paths and for task
    names; None goes back to the login name."""
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


def _copy_source_files(submit_config: SubmitConfig, run_dir: str) -> None:
    """Copy the run function's source tree, dnnlib and the extra files into `<run_dir>/src`.

    The source tree is the folder holding the function's top-level package: for
    "training.training_loop.f" the folder that contains training/.
    """
    ignores = submit_config.run_dir_ignore
    func_name = submit_config.run_func_name
    source_root = util.get_module_dir_by_obj_name(func_name)
    for _ in range(func_name.count(".") - 1):
        source_root = os.path.dirname(source_root)
    candidates = util.list_dir_recursively_with_ignore(source_root, ignores=ignores)
    candidates += util.list_dir_recursively_with_ignore(util.get_module_dir_by_obj_name("dnnlib"),
                                                        ignores=ignores, add_base_to_relative=True)
    candidates += list(submit_config.run_dir_extra_files)

    # Results usually live inside the source tree: never copy run dirs (this one included). A later
    # entry for the same destination wins.
    results_root = os.path.dirname(os.path.abspath(run_dir))
    destinations = {os.path.join(run_dir, "src", rel_path): src
                    for src, rel_path in candidates if not _is_inside(src, results_root)}
    util.copy_files_and_create_dirs([(destinations[dst], dst) for dst in sorted(destinations)])


def _describe_start(submit_config: SubmitConfig, run_dir: str) -> str:
    """The text of run.txt: how and where the run was started."""
    command = " ".join(shlex.quote(arg) for arg in [sys.executable] + sys.argv)
    facts = [("command", command), ("cwd", os.getcwd()), ("run_func_name", submit_config.run_func_name),
             ("run_dir", run_dir), ("started", time.strftime("%Y-%m-%d %H:%M:%S"))]
    return "".join("%s: %s\n" % fact for fact in facts)


def _pretty(submit_config: SubmitConfig) -> str:
    return pprint.pformat(submit_config, indent=4, width=200, compact=False)


def _populate_run_dir(submit_config: SubmitConfig, run_dir: str) -> None:
    """Copy the source code into `<run_dir>/src` (unless disabled) and write the configuration files."""
    if not submit_config.local.do_not_copy_source_files:
        _copy_source_files(submit_config, run_dir)
    with open(os.path.join(run_dir, "submit_config.pkl"), "wb") as f:
        pickle.dump(submit_config, f)
    texts = {"submit_config.txt": _pretty(submit_config) + "\n", "run.txt": _describe_start(submit_config, run_dir)}
    for file_name, text in texts.items():
        with open(os.path.join(run_dir, file_name), "w") as f:
            f.write(text)


def _call_run_func(submit_config: SubmitConfig) -> None:
    """Call the run function by name, adding `submit_config=` when it takes that argument."""
    func_name = submit_config.run_func_name
    print("dnnlib: Running %s() on %s..." % (func_name, submit_config.host_name))
    started = time.time()
    func = util.get_obj_by_name(func_name)
    kwargs = dict(submit_config.run_func_kwargs)
    if "submit_config" in inspect.signature(func).parameters:
        kwargs["submit_config"] = submit_config
    func(**kwargs)
    print("dnnlib: Finished %s() in %s." % (func_name, util.format_time(time.time() - started)))


def _succeeded(error) -> bool:
    """Whether a run function that raised `error` (None: returned) counts as a success: sys.exit(0) does."""
    return error is None or (isinstance(error, SystemExit) and error.code in (None, 0))


def _mark_ended(run_dir: str, error) -> None:
    """Close a RunContext the run function left open, then write `_finished.txt`, or `_failed.txt` with
    the one-line error."""
    context = RunContext.get()
    if context is not None:
        context.close()
    write_end_marker(run_dir, None if _succeeded(error) else error)


def run_wrapper(submit_config: SubmitConfig) -> SubmitConfig:
    """Call the run function with log.txt capturing the output; always clean up, even on errors."""
    import dnnlib  # The package imports this module: import it when called, not at load time.

    run_dir = submit_config.run_dir
    logger = util.Logger(file_name=os.path.join(run_dir, "log.txt"), file_mode="w", should_flush=True)
    outer_config, dnnlib.submit_config = dnnlib.submit_config, submit_config
    managed = os.path.abspath(run_dir)
    RunContext.managed_run_dirs.add(managed)
    error = None
    try:
        _call_run_func(submit_config)
    except BaseException as e:
        # The caller sees the exception; the log file gets the traceback too.
        error = e
        logger.write_to_file(traceback.format_exc())
        raise
    finally:
        _mark_ended(run_dir, error)
        RunContext.managed_run_dirs.discard(managed)
        dnnlib.submit_config = outer_config
        logger.close()
    return submit_config


def _check_submission(submit_config: SubmitConfig, run_func_name: str, run_func_kwargs: dict) -> None:
    """Raise before any run dir exists if the run could not start or its arguments not be saved."""
    if not submit_config.num_gpus:
        raise ValueError("submit_run: SubmitConfig.num_gpus must be non-zero, got %r" % (submit_config.num_gpus,))
    if submit_config.submit_target != SubmitTarget.LOCAL:
        raise ValueError("submit_run: unsupported submit target %r (only SubmitTarget.LOCAL)"
                         % (submit_config.submit_target,))
    if not callable(util.get_obj_by_name(run_func_name)):
        raise TypeError("submit_run: %r is not callable" % run_func_name)
    if not util.is_pickleable(run_func_kwargs):
        raise TypeError("submit_run: the keyword arguments of %s cannot be pickled into submit_config.pkl"
                        % run_func_name)


def submit_run(submit_config: SubmitConfig, run_func_name: str, **run_func_kwargs) -> SubmitConfig:
    """Create the next numbered run dir under `submit_config.run_dir_root` and run
    `run_func_name(**run_func_kwargs)` there (plus `submit_config=` if the function takes it).

    During the run `dnnlib.submit_config` is the filled-in copy of `submit_config`, which is returned.
    """
    config = copy.deepcopy(submit_config)
    _check_submission(config, run_func_name, run_func_kwargs)
    target = internal.local.Target()

    config.update(run_func_name=run_func_name, run_func_kwargs=run_func_kwargs)
    config.user_name = get_user_name() if config.user_name is None else config.user_name
    host_run_dir = _create_run_dir_local(config)
    config.task_name = "%s-%05d-%s" % (config.user_name, config.run_id, config.run_desc)
    target.finalize_submit_config(config, host_run_dir)
    _populate_run_dir(config, host_run_dir)

    if config.print_info:
        print("\nSubmit config:\n\n%s\n" % _pretty(config))
    return target.submit(config, host_run_dir)
