"""Faust's consumer, handing each fetched message to its stream without four tasks.

Faust's fetch loop (``Consumer._drain_messages``) delivers every message with
``wait_first(callback(message), suspend_flow.wait())``, which wraps the delivery and
three watchers (flow suspended, service stopped, service crashed) in tasks and waits
for the first: about 9% of the worker's CPU (docs/speed-profile.md), though nearly
every delivery is a put into a stream buffer with room, finished before any of the
watchers could fire.

:class:`DirectDeliveryConsumer` runs the delivery itself first. Finished without
waiting: done, nothing created, and the flow-watcher coroutine is closed unstarted.
It had to wait (a full buffer, a held lock): the started delivery goes on inside
Faust's own ``wait_first``, resumed where it stopped (:class:`ResumedDelivery`), so a
rebalance that suspends the flow still cancels it as before. With the flow already
suspended, or the consumer stopping, Faust's path is taken unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Generator
from typing import Any

from faust.transport.drivers.aiokafka import Consumer
from mode.services import WaitResults


class ResumedDelivery:
    """An awaitable that carries on a coroutine already run up to its first wait:
    what it yielded (the future it waits for) is yielded again to the task that awaits
    this, and everything the task sends or throws goes on to the coroutine."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and errors go on to the coroutine
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as done:
                    return done.value


class DirectDeliveryConsumer(Consumer):
    """The aiokafka driver's consumer with the direct first step of a delivery."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        if (len(coros) != 2 or timeout is not None
                or not all(inspect.iscoroutine(c) for c in coros)
                or self.suspend_flow.is_set() or self.should_stop):
            return await super().wait_first(*coros, timeout=timeout)
        delivery, flow_suspended = coros
        try:
            waiting_on = delivery.send(None)
        except StopIteration as done:
            flow_suspended.close()
            return WaitResults([delivery], [done.value], False)
        except BaseException:
            flow_suspended.close()
            raise
        return await super().wait_first(ResumedDelivery(delivery, waiting_on),
                                        flow_suspended)
