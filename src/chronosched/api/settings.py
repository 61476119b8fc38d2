"""The API server's settings (every field has a `CHRONOSCHED_…` environment twin)."""

from __future__ import annotations

from chronosched.config import Settings


class ApiSettings(Settings):
    max_body_bytes: int = 16 * 1024 * 1024
    """Larger request bodies are refused with 413 before they are read."""
    allow_insecure: bool = False
    """Serve a non-loopback address without any token (for a private network only)."""
