"""Chronosched db package."""
