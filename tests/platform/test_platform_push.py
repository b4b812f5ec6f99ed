"""Grading events pushed from sync code (a grading worker) over the Redis channel layer, as in production.

Real Redis (``LAB_TEST_REDIS_DB``, as the production tests use): the pushes reach a listener of the learner's
group in order, reuse one connection (``async_to_sync`` connected afresh for every event: 4 ms each), and a
forked worker process gets a push loop of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os

import pytest
import redis
from channels.layers import get_channel_layer

from grading import events

REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('LAB_TEST_REDIS_DB', '13')}"
USER_ID = 9_000_000 + os.getpid() % 100_000  # a group nobody else listens to
EVENTS = 30


@pytest.fixture
def redis_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    return get_channel_layer()


def connections_made() -> int:
    return int(redis.Redis.from_url(REDIS_URL).info("stats")["total_connections_received"])


def test_events_pushed_from_a_worker_thread_arrive_in_order_over_one_connection(redis_layer):
    def push(seq: int) -> None:
        events.push(
            user_id=USER_ID, submission_id=7, event={"type": "output", "seq": seq, "data": f"line {seq}"}
        )

    async def listen() -> tuple[list[int], int]:
        channel = await redis_layer.new_channel()
        await redis_layer.group_add(events.group_name(USER_ID), channel)
        try:
            await asyncio.to_thread(push, -1)  # the push loop's first send connects
            first = await asyncio.wait_for(redis_layer.receive(channel), 10)
            assert first["event"]["seq"] == -1
            before = connections_made()
            await asyncio.to_thread(lambda: [push(seq) for seq in range(EVENTS)])
            received = [await asyncio.wait_for(redis_layer.receive(channel), 10) for _ in range(EVENTS)]
            return [message["event"]["seq"] for message in received], connections_made() - before
        finally:
            await redis_layer.group_discard(events.group_name(USER_ID), channel)

    order, new_connections = asyncio.run(listen())
    assert order == list(range(EVENTS))
    # the listener's own receives may open one; a connection per push would be 30 (and 2 connections_made calls)
    assert new_connections <= 3, f"{new_connections} new Redis connections for {EVENTS} pushes"


def _child_loop(answer) -> None:  # in the forked child: the parent's loop has no thread here, it would hang
    answer.send(_started(events._push_loop()))


def _started(loop: asyncio.AbstractEventLoop) -> bool:
    return asyncio.run_coroutine_threadsafe(asyncio.sleep(0, result=True), loop).result(timeout=5)


def test_a_forked_worker_makes_a_push_loop_of_its_own(redis_layer):
    parent = events._push_loop()
    assert _started(parent)
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_child_loop, args=(send,))
    child.start()
    assert receive.poll(20), "the forked child's push loop never ran a send"
    assert receive.recv() is True
    child.join(10)
    assert child.exitcode == 0
    assert events._push_loop() is parent  # the parent keeps its own
