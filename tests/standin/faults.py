"""Faults the stand-in can inject on demand, and request holds for crash tests."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaultPlan:
    """Rates (0..1) of transient faults on signed API requests.

    - `rate_429`: answer 429 with `Retry-After: retry_after` (before doing anything);
    - `rate_500`: answer 500 (before doing anything);
    - `rate_drop`: close the connection with no response; for POSTs half of these happen
      *after* the request took effect, so the client cannot know whether it did;
    - `rate_slow`: wait `slow_seconds` before answering normally.
    `routes` limits the faults to those route names (None = every route);
    `drop_routes` further limits dropped connections (the SDK answers a dropped long-poll
    with a fixed 10 s pause of its own, so fast tests keep drops off `poll`).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 1.0
    retry_after: int = 0
    routes: frozenset[str] | None = None
    drop_routes: frozenset[str] | None = None
    seed: int | None = None


NO_FAULTS = FaultPlan()


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request."""

    kind: str  # "none", "429", "500", "drop_before", "drop_after", "slow"


class FaultInjector:
    """Draws a fault decision per request from the current plan."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.plan = NO_FAULTS
        self._rng = random.Random()
        self.injected: dict[str, int] = {}
        self._lose: dict[str, int] = {}

    def lose_answers(self, route: str, count: int = 1) -> None:
        """The next `count` requests to `route` take effect, then their answers are lost
        (the connection closes with no response): a deterministic lost answer."""
        with self._lock:
            self._lose[route] = self._lose.get(route, 0) + count

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan (and reseed when it carries a seed)."""
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)

    def decide(self, route: str, method: str) -> FaultDecision:
        """The fault for this request, if any."""
        with self._lock:
            if self._lose.get(route, 0) > 0:
                self._lose[route] -= 1
                self.injected["drop_after"] = self.injected.get("drop_after", 0) + 1
                return FaultDecision("drop_after")
            plan = self.plan
            if plan.routes is not None and route not in plan.routes:
                return FaultDecision("none")
            roll = self._rng.random()
            kind = "none"
            edge = plan.rate_429
            if roll < edge:
                kind = "429"
            elif roll < (edge := edge + plan.rate_500):
                kind = "500"
            elif roll < (edge := edge + plan.rate_drop):
                if plan.drop_routes is not None and route not in plan.drop_routes:
                    return FaultDecision("none")
                after = method == "POST" and self._rng.random() < 0.5
                kind = "drop_after" if after else "drop_before"
            elif roll < edge + plan.rate_slow:
                kind = "slow"
            if kind != "none":
                self.injected[kind] = self.injected.get(kind, 0) + 1
            return FaultDecision(kind)


@dataclass
class Hold:
    """A request held at a point of its handling until released.

    `phase` "before": the request is held before it takes effect; "after": it has taken
    effect (a job was recorded, a poll was answered internally) but the response is not
    yet sent. `reached` is set when a request arrives at the hold.
    """

    route: str
    phase: str
    skip: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let the held request continue."""
        self.released.set()

    def wait_reached(self, timeout: float = 30.0) -> bool:
        """Block until a request is held here."""
        return self.reached.wait(timeout)


class HoldBoard:
    """Holds waiting for their request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[Hold] = []
        self._active: list[Hold] = []

    def add(self, hold: Hold) -> Hold:
        """Arm a hold."""
        with self._lock:
            self._holds.append(hold)
        return hold

    def take(self, route: str, phase: str) -> Hold | None:
        """The armed hold this request falls into, if any (each hold catches one request)."""
        with self._lock:
            for hold in self._holds:
                if hold.route == route and hold.phase == phase:
                    if hold.skip > 0:
                        hold.skip -= 1
                        return None
                    self._holds.remove(hold)
                    self._active.append(hold)
                    return hold
        return None

    def release_all(self) -> None:
        """Release every armed hold (used at shutdown)."""
        with self._lock:
            for hold in [*self._holds, *self._active]:
                hold.release()
            self._holds.clear()
            self._active.clear()
