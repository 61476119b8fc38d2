"""Chronosched api package."""
