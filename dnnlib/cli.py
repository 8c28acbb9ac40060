"""What the command-line tools (`run_*.py`, `dataset_tool.py`) share: argument types, the one-line error
report, and running a command in a new numbered run directory.

The argument types raise `argparse.ArgumentTypeError`, so that argparse prints a one-line usage error.
"""

import argparse
import re
import sys

import dnnlib


def str_to_bool(text):
    """'true'/'yes'/'1'/... -> True, 'false'/'no'/'0'/... -> False (case-insensitive); a bool passes."""
    if isinstance(text, bool):
        return text
    answer = {"yes": True, "true": True, "t": True, "y": True, "1": True,
              "no": False, "false": False, "f": False, "n": False, "0": False}.get(text.strip().lower())
    if answer is None:
        raise argparse.ArgumentTypeError("expected a boolean (true/false), got %r" % text)
    return answer


def parse_num_range(text):
    """'1,2,5-7' -> [1, 2, 5, 6, 7]: comma-separated numbers and inclusive ranges."""
    numbers = []
    for part in text.split(","):
        bounds = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if bounds is None:
            raise argparse.ArgumentTypeError("expected numbers like '1,2,5-7', got %r" % text)
        first = int(bounds.group(1))
        last = int(bounds.group(2)) if bounds.group(2) is not None else first
        if last < first:
            raise argparse.ArgumentTypeError("range %r is empty" % part)
        numbers.extend(range(first, last + 1))
    return numbers


def report_error(prog, error):
    """Print `<prog>: error: <message>` on stderr, the form argparse uses; returns 1, the exit status."""
    print("%s: error: %s" % (prog, error), file=sys.stderr)
    return 1


def run_in_new_run_dir(run_func_name, result_dir, run_desc, num_gpus=1, **run_func_kwargs):
    """Call the function named `run_func_name` (e.g. 'run_generator.generate_images') with `run_func_kwargs`
    in this process, inside a new run directory `<result_dir>/<NNNNN>-<run_desc>` whose log.txt records its
    output; the source files are not copied there."""
    config = dnnlib.SubmitConfig()
    config.run_dir_root = result_dir
    config.run_desc = run_desc
    config.num_gpus = num_gpus
    config.submit_target = dnnlib.SubmitTarget.LOCAL
    config.local.do_not_copy_source_files = True
    dnnlib.submit_run(config, run_func_name, **run_func_kwargs)
