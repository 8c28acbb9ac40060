"""What the command-line tools (`run_*.py`, `dataset_tool.py`) share: argument types, the one-line error
report, and running a command in a new numbered run directory.

The argument types raise `argparse.ArgumentTypeError`, so that argparse prints a one-line usage error.
"""

import argparse
import bisect
import math
import re
import sys

import dnnlib
from dnnlib import util


def str_to_bool(text):
    """'true'/'yes'/'1'/... -> True, 'false'/'no'/'0'/... -> False (case-insensitive; the words of
    dnnlib.util.parse_yes_no); a bool passes."""
    if isinstance(text, bool):
        return text
    try:
        return util.parse_yes_no(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a boolean (true/false), got %r" % text) from None


def _num_ranges(text):
    """'1,2,5-7' -> [range(1, 2), range(2, 3), range(5, 8)]."""
    ranges = []
    for part in text.split(","):
        bounds = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if bounds is None:
            raise argparse.ArgumentTypeError("expected numbers like '1,2,5-7', got %r" % text)
        first = int(bounds.group(1))
        last = int(bounds.group(2)) if bounds.group(2) is not None else first
        if last < first:
            raise argparse.ArgumentTypeError("range %r is empty" % part)
        ranges.append(range(first, last + 1))
    return ranges


def parse_num_range(text):
    """'1,2,5-7' -> [1, 2, 5, 6, 7]: comma-separated numbers and inclusive ranges."""
    return [number for numbers in _num_ranges(text) for number in numbers]


class NumRange(object):
    """The numbers of an expression such as '1,2,5-7', as a sequence that is never expanded into a list:
    `--seeds=0-99999999` costs a few bytes in memory and in a pickled run config, which records the
    expression. Iteration, len() and indexing work as for the list."""

    def __init__(self, text):
        self.text = text.strip()
        self._ranges = _num_ranges(self.text)
        self._starts = []  # Position of each range's first number in the whole sequence.
        total = 0
        for numbers in self._ranges:
            self._starts.append(total)
            total += len(numbers)
        self._len = total

    def __getstate__(self):
        return {"text": self.text}  # The expression only: small, and readable in submit_config.pkl.

    def __setstate__(self, state):
        self.__init__(state["text"])

    def __len__(self):
        return self._len

    def __iter__(self):
        for numbers in self._ranges:
            for number in numbers:
                yield number

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("NumRange index out of range")
        which = bisect.bisect_right(self._starts, index) - 1
        return self._ranges[which][index - self._starts[which]]

    def __add__(self, other):
        return list(self) + list(other)

    def __eq__(self, other):
        if isinstance(other, NumRange):
            return self.text == other.text
        return isinstance(other, (list, tuple)) and len(other) == self._len and list(self) == list(other)

    def __repr__(self):
        return "NumRange(%r)" % self.text

    def max(self):
        """The largest number."""
        return max(numbers[-1] for numbers in self._ranges)


MAX_SEED = 2 ** 32 - 1  # numpy's RandomState takes seeds 0 .. 2**32 - 1.


def parse_seeds(text):
    """Random seeds '0-3' / '1,5,9' as a NumRange (never expanded); each must be in 0 .. 2**32 - 1."""
    seeds = NumRange(text)
    if seeds.max() > MAX_SEED:
        raise argparse.ArgumentTypeError("seeds must be in 0..%d, got %d" % (MAX_SEED, seeds.max()))
    return seeds


def finite_float(text):
    """A float that is neither nan nor infinite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number, got %r" % text) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("expected a finite number, got %r" % text)
    return value


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, `<prog>: error: <message>` (exit status 2),
    without the usage text in front; `--help` shows the usage. Subcommand parsers are of this class too."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, " ".join(message.split())))


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
