"""The priority gate in front of a transport: order of turns, reserved share, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from alerts.storage.send_gate import PriorityGate


async def _take_turns(gate: PriorityGate, ranks: list[int]) -> list[int]:
    """Queue one waiter per rank behind a held permit; return the order they got in."""
    order: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot(lambda: 0):
            await release.wait()

    async def waiter(index: int, rank: int) -> None:
        async with gate.slot(lambda: rank):
            order.append(index)

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(waiter(i, r)) for i, r in enumerate(ranks)]
    await asyncio.sleep(0)
    assert gate.waiting == len(ranks)
    release.set()
    await asyncio.gather(held, *tasks)
    return order


async def test_the_best_rank_goes_first_oldest_first_within_a_rank() -> None:
    order = await _take_turns(PriorityGate(1, fair_every=100), [2, 2, 0, 1, 0])
    assert order == [2, 4, 3, 0, 1]


async def test_every_nth_turn_goes_to_the_longest_waiter_so_broadcasts_never_starve() -> None:
    ranks = [2, 2] + [0] * 8  # two broadcast jobs queued first, then eight personal ones
    order = await _take_turns(PriorityGate(1, fair_every=4), ranks)
    assert order[3] == 0 and order[7] == 1  # the 4th and 8th turns: the broadcasts
    assert order[:3] == [2, 3, 4]


async def test_a_rank_is_read_when_a_permit_frees() -> None:
    """A chat whose lane got a personal job while waiting moves up the queue."""
    gate = PriorityGate(1, fair_every=100)
    ranks = {"lane": 2}
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot(lambda: 0):
            await release.wait()

    async def waiter(name: str, rank: Callable[[], int]) -> None:
        async with gate.slot(rank):
            order.append(name)

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    other = asyncio.create_task(waiter("other", lambda: 1))
    lane = asyncio.create_task(waiter("lane", lambda: ranks["lane"]))
    await asyncio.sleep(0)
    ranks["lane"] = 0
    release.set()
    await asyncio.gather(held, other, lane)
    assert order == ["lane", "other"]


async def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    gate = PriorityGate(1)
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot(lambda: 0):
            await release.wait()

    async def waiter() -> str:
        async with gate.slot(lambda: 0):
            return "in"

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    gone, kept = asyncio.create_task(waiter()), asyncio.create_task(waiter())
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    await held
    assert await kept == "in"
    with pytest.raises(asyncio.CancelledError):
        await gone
    async with gate.slot(lambda: 0):  # every permit came back
        pass
