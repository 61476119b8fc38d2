"""Chronosched api/routes package."""
