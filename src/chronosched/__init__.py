"""Chronosched: a distributed job scheduler with DAG-aware execution on PostgreSQL."""

from chronosched.tasks import task

__version__ = "0.1.0"
__all__ = ["__version__", "task"]
