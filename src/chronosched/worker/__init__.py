"""Chronosched worker package."""
