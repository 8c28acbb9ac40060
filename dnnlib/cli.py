"""Argument types shared by the command-line tools (`run_*.py`, `dataset_tool.py`).

Each raises `argparse.ArgumentTypeError`, so that argparse prints a one-line usage error.
"""

import argparse
import re


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
