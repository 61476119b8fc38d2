"""Chronosched scheduler package."""
