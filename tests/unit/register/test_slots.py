"""Job slots: at most N held, granted strictly in ticket order, passed tickets skipped."""

from __future__ import annotations

import threading
import time

import pytest

from registration.encord.retry import Stopped
from registration.register.slots import JobSlots


def test_slots_go_in_ticket_order_even_when_a_later_ticket_asks_first():
    slots = JobSlots(1, threading.Event())
    first, second = slots.ticket(), slots.ticket()
    order: list[int] = []

    def take(ticket):
        slots.acquire(ticket)
        order.append(ticket.number)
        slots.release()

    late = threading.Thread(target=take, args=(second,))
    late.start()
    time.sleep(0.3)
    assert order == []  # the second waits for the first, though a slot is free
    take(first)
    late.join(timeout=5)
    assert order == [0, 1]


def test_at_most_n_slots_are_held():
    slots = JobSlots(2, threading.Event())
    tickets = [slots.ticket() for _ in range(3)]
    slots.acquire(tickets[0])
    slots.acquire(tickets[1])
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (slots.acquire(tickets[2]), got.set()))
    waiter.start()
    assert not got.wait(0.3)
    slots.release()
    assert got.wait(5)
    waiter.join(timeout=5)


def test_a_passed_ticket_lets_the_next_ones_through():
    slots = JobSlots(1, threading.Event())
    first, second, third = slots.ticket(), slots.ticket(), slots.ticket()
    slots.pass_on(second)  # passed before its turn: skipped when the line reaches it
    slots.acquire(first)
    slots.release()
    slots.acquire(third)
    slots.pass_on(third)  # already used: nothing changes
    slots.release()


def test_a_ticket_is_used_once_and_waiting_stops_with_the_run():
    stop = threading.Event()
    slots = JobSlots(1, stop)
    first, second = slots.ticket(), slots.ticket()
    slots.acquire(first)
    with pytest.raises(ValueError):
        slots.acquire(first)
    stop.set()
    with pytest.raises(Stopped):
        slots.acquire(second)


def test_files_are_prepared_one_at_a_time_earliest_ticket_first():
    slots = JobSlots(8, threading.Event())
    tickets = [slots.ticket() for _ in range(5)]
    order: list[int] = []
    inside = 0
    most_inside = 0
    lock = threading.Lock()

    def prepare(ticket):
        nonlocal inside, most_inside
        with slots.preparing(ticket):
            with lock:
                inside += 1
                most_inside = max(most_inside, inside)
            order.append(ticket.number)
            time.sleep(0.05)
            with lock:
                inside -= 1

    with slots.preparing(tickets[4]):  # held while the others line up, latest first
        waiters = [
            threading.Thread(target=prepare, args=(t,))
            for t in (tickets[3], tickets[0], tickets[2])
        ]
        for waiter in waiters:
            waiter.start()
            time.sleep(0.05)
        time.sleep(0.3)
        assert order == []
    for waiter in waiters:
        waiter.join(timeout=5)
    # ticket 1 never prepares (its file needs no request): it holds nobody up
    assert order == [0, 2, 3]
    assert most_inside == 1


def test_waiting_to_prepare_stops_with_the_run():
    stop = threading.Event()
    slots = JobSlots(1, stop)
    first, second = slots.ticket(), slots.ticket()
    failed: list[BaseException] = []

    def wait_turn():
        try:
            with slots.preparing(second):
                pass
        except Stopped as exc:
            failed.append(exc)

    with slots.preparing(first):
        waiter = threading.Thread(target=wait_turn)
        waiter.start()
        time.sleep(0.1)
        stop.set()
        waiter.join(timeout=5)
    assert len(failed) == 1
