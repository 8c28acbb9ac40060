"""Submission targets. Only local execution exists."""

from . import local
