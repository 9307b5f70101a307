"""The direct first step of a Faust delivery: a delivery that had to wait goes on, or is
cancelled, exactly as the coroutine would have been in a task of its own."""

from __future__ import annotations

import asyncio

import pytest

from streams.faust.direct_delivery import ResumedDelivery


async def delivery(gate: asyncio.Future, log: list[str]) -> str:
    log.append("started")
    try:
        value = await gate
        log.append(f"got {value}")
        await asyncio.sleep(0)
        return f"delivered {value}"
    finally:
        log.append("cleaned up")


def started(gate: asyncio.Future, log: list[str]) -> ResumedDelivery:
    coro = delivery(gate, log)
    waiting_on = coro.send(None)
    assert waiting_on is gate  # it stopped at its first wait
    return ResumedDelivery(coro, waiting_on)


def test_a_resumed_delivery_finishes_with_the_coroutines_result():
    async def main() -> tuple[str, list[str]]:
        log: list[str] = []
        gate = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(started(gate, log))
        await asyncio.sleep(0)
        assert not task.done()
        gate.set_result(7)
        return await task, log

    assert asyncio.run(main()) == (
        "delivered 7", ["started", "got 7", "cleaned up"])


def test_cancelling_a_resumed_delivery_cancels_the_coroutine():
    async def main() -> list[str]:
        log: list[str] = []
        gate = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(started(gate, log))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return log

    assert asyncio.run(main()) == ["started", "cleaned up"]


def test_an_error_reaches_whoever_awaits_the_resumed_delivery():
    async def main() -> list[str]:
        log: list[str] = []
        gate = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(started(gate, log))
        await asyncio.sleep(0)
        gate.set_exception(ValueError("broken"))
        with pytest.raises(ValueError, match="broken"):
            await task
        return log

    assert asyncio.run(main()) == ["started", "cleaned up"]
