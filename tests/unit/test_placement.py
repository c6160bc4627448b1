"""Placement: the assignment every node computes alone and that all must agree on."""

from __future__ import annotations

import uuid
from collections import Counter

from zaphubd.cluster.placement import NodeLoad, assign

IDS = [uuid.UUID(int=n * 7919 + 1) for n in range(300)]


def test_equal_nodes_get_equal_shares() -> None:
    nodes = [NodeLoad(f"n{i}", 200, 0) for i in range(3)]
    assert Counter(assign(IDS, nodes).values()) == {"n0": 100, "n1": 100, "n2": 100}


def test_loaded_nodes_get_less_and_nobody_goes_past_capacity() -> None:
    nodes = [NodeLoad("a", 1000, 90), NodeLoad("b", 100, 0), NodeLoad("c", 150, 60)]
    few = Counter(assign(IDS[:60], nodes).values())
    assert few == {"b": 60}  # the least loaded first, until loads are level
    counts = Counter(assign(IDS, nodes).values())
    # b and c fill up to their capacity; a, with room to spare, takes the rest
    assert counts == {"b": 100, "c": 90, "a": 110}


def test_no_room_leaves_sessions_unplaced() -> None:
    assert len(assign(IDS, [NodeLoad("a", 10, 5)])) == 5


def test_the_same_inputs_give_the_same_answer_in_any_order() -> None:
    nodes = [NodeLoad(f"n{i}", 200, i) for i in range(3)]
    assert assign(IDS, nodes) == assign(list(reversed(IDS)), list(reversed(nodes)))


def test_one_at_a_time_from_equal_loads_still_spreads() -> None:
    nodes = [NodeLoad(f"n{i}", 200, 0) for i in range(3)]
    picks = Counter(assign([sid], nodes)[sid] for sid in IDS)
    assert all(80 <= count <= 120 for count in picks.values()), picks
