"""Chronosched cli package."""
