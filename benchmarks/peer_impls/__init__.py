"""Peer job queues driven by `benchmarks.peers`. Each script here runs in the peers' own
environment (`benchmarks/.peers-venv`, `benchmarks/.peers-node`), never in the project's, so it
imports nothing from `benchmarks` or `chronosched`.

Protocol shared by every script: `setup DSN JOBS` installs the peer's schema into an empty
database and enqueues JOBS no-op jobs in batches (untimed); `work DSN ...` drains the queue and
exits, printing one JSON line `{"first_start": epoch s, "end": epoch s, "ran": n}`: when its first
handler started, when its drain returned (the last completion stored), and how many it ran.
"""
