"""Chronosched ui package."""
