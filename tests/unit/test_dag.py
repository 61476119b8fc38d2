"""Pure DAG logic: cycle detection and topological order."""

from __future__ import annotations

import pytest

from chronosched import dag


@pytest.mark.parametrize(
    ("existing", "new", "cycle"),
    [
        pytest.param([], [(1, 2)], None, id="single-edge"),
        pytest.param([(1, 2), (2, 3)], [(3, 1)], {1, 2, 3}, id="closes-chain"),
        pytest.param([(1, 2), (2, 3)], [(1, 3)], None, id="shortcut-is-fine"),
        pytest.param([], [(4, 4)], {4}, id="self-edge"),
        pytest.param([], [(1, 2), (2, 1)], {1, 2}, id="cycle-inside-batch"),
        pytest.param([(1, 2), (3, 4)], [(2, 3), (4, 1)], {1, 2, 3, 4}, id="two-new-edges"),
        pytest.param([(1, 2), (1, 3), (2, 4), (3, 4)], [(4, 5)], None, id="diamond"),
    ],
)
def test_find_cycle__table(
    existing: list[tuple[int, int]], new: list[tuple[int, int]], cycle: set[int] | None
) -> None:
    found = dag.find_cycle(existing, new)
    if cycle is None:
        assert found is None
    else:
        assert found is not None
        assert set(found) == cycle


def test_find_cycle__returned_path_is_a_real_cycle() -> None:
    existing = [(i, i + 1) for i in range(50)]
    found = dag.find_cycle(existing, [(50, 10)])
    assert found is not None
    edges = set(existing) | {(50, 10)}
    for a, b in zip(found, [*found[1:], found[0]], strict=True):
        assert (a, b) in edges


def test_find_cycle__long_chain_does_not_recurse() -> None:
    chain = [(i, i + 1) for i in range(100_000)]
    assert dag.find_cycle(chain, [(100_000, 100_001)]) is None
    found = dag.find_cycle(chain, [(100_000, 0)])
    assert found is not None
    assert len(found) == 100_001


def test_topological_order__parents_first_and_cycles_refused() -> None:
    order = dag.topological_order([1, 2, 3, 4], [(1, 2), (2, 3), (1, 4)])
    assert order.index(1) < order.index(2) < order.index(3)
    assert order.index(1) < order.index(4)
    with pytest.raises(ValueError, match="cycle"):
        dag.topological_order([1, 2], [(1, 2), (2, 1)])
