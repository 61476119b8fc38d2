"""Pure DAG logic: cycle detection that stays linear in the size of the graph.

The seed kept a transitive-closure table, which grows O(n²) rows for a chain; instead we check
each batch of new edges with one iterative depth-first search over the DAG's edges: O(V + E).
Every cycle in "existing + new" passes through a new edge (the existing graph is acyclic), so
the search only starts from the new edges' parents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)

_WHITE, _GREY, _BLACK = 0, 1, 2


def find_cycle(existing: Iterable[tuple[N, N]], new: Sequence[tuple[N, N]]) -> list[N] | None:
    """Return one cycle (nodes in edge order) that adding `new` would close, else None."""
    children: defaultdict[N, list[N]] = defaultdict(list)
    for parent, child in existing:
        children[parent].append(child)
    for parent, child in new:
        if parent == child:
            return [parent]
        children[parent].append(child)

    color: dict[N, int] = {}
    for start, _ in new:
        if color.get(start, _WHITE) != _WHITE:
            continue
        cycle = _dfs(start, children, color)
        if cycle is not None:
            return cycle
    return None


def _dfs(start: N, children: dict[N, list[N]], color: dict[N, int]) -> list[N] | None:
    """Iterative DFS from `start`; returns the cycle found on the current path, if any."""
    path: list[N] = [start]
    on_path_index: dict[N, int] = {start: 0}
    iters = [iter(children.get(start, ()))]
    color[start] = _GREY
    while iters:
        nxt = next(iters[-1], None)
        if nxt is None:
            done = path.pop()
            del on_path_index[done]
            color[done] = _BLACK
            iters.pop()
            continue
        state = color.get(nxt, _WHITE)
        if state == _GREY:
            return path[on_path_index[nxt] :]
        if state == _WHITE:
            color[nxt] = _GREY
            on_path_index[nxt] = len(path)
            path.append(nxt)
            iters.append(iter(children.get(nxt, ())))
    return None


def topological_order(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> list[N]:
    """Kahn's algorithm; raises ValueError when the graph has a cycle."""
    indegree: dict[N, int] = {n: 0 for n in nodes}
    children: defaultdict[N, list[N]] = defaultdict(list)
    for parent, child in edges:
        children[parent].append(child)
        indegree[child] = indegree.get(child, 0) + 1
        indegree.setdefault(parent, 0)
    ready = [n for n, d in indegree.items() if d == 0]
    order: list[N] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in children.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(indegree):
        raise ValueError("graph has a cycle")
    return order
