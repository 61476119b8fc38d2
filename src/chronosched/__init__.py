"""Chronosched: a distributed job scheduler with DAG-aware execution on PostgreSQL."""

__version__ = "0.1.0"
