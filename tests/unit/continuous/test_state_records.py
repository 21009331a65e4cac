"""The conditional writes exactly-once rests on, against moto's DynamoDB (in-process)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from demo.continuous_resources import create_state_table
from registration.continuous import runs
from registration.continuous import table as t
from registration.continuous.claims import Claims, Held, Settled, Taken
from registration.continuous.dynamo import StateTable
from registration.continuous.groups import ADDED, DUPLICATE, LATE, REUPLOADED, Groups
from registration.continuous.keys import Head
from registration.continuous.ledger import Ledger

NOW = 1_000_000.0


@pytest.fixture
def table(offline_aws: str) -> Iterator[StateTable]:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_state_table(client, "state")
        yield StateTable(client, "state")


def head(key: str, etag: str = "e1") -> Head:
    return Head(key, 10, etag, "STANDARD", None, None)


def test_a_claim_is_taken_once_and_held_until_its_lease_runs_out(table: StateTable) -> None:
    claims = Claims(table)
    first = claims.claim_object(head("a.jpg"), "b", "one", NOW, NOW + 100)
    assert isinstance(first, Taken) and not first.claim.taken_over
    assert claims.claim_object(head("a.jpg"), "b", "two", NOW + 50, NOW + 150) == Held(NOW + 100)
    assert claims.store_job(first.claim, "job-1", NOW)
    # The lease runs out: the next invocation takes the claim over, with the stored job.
    later = claims.claim_object(head("a.jpg"), "b", "two", NOW + 101, NOW + 200)
    assert isinstance(later, Taken) and later.claim.taken_over
    assert later.claim.job == "job-1" and not later.claim.fate_unknown
    # The first owner, back from the dead, changes nothing any more.
    assert not claims.store_job(first.claim, "job-2", NOW + 102)
    assert not claims.finish(first.claim, t.REGISTERED, NOW + 102)
    assert claims.finish(later.claim, t.REGISTERED, NOW + 103, sets={t.ITEM: "item-1"})
    settled = claims.claim_object(head("a.jpg"), "b", "three", NOW + 104, NOW + 200)
    assert isinstance(settled, Settled) and settled.state == t.REGISTERED
    assert settled.record[t.ITEM] == "item-1" and t.OWNER not in settled.record


def test_a_takeover_without_a_job_is_of_unknown_fate(table: StateTable) -> None:
    claims = Claims(table)
    claims.claim_object(head("a.jpg"), "b", "one", NOW, NOW + 10)
    later = claims.claim_object(head("a.jpg"), "b", "two", NOW + 11, NOW + 20)
    assert isinstance(later, Taken) and later.claim.fate_unknown
    assert claims.store_baseline(later.claim, ["item-0"], NOW + 12)
    assert claims.store_baseline(later.claim, ["other"], NOW + 13)  # never replaced
    assert later.claim.baseline == ["item-0"]


def test_skipped_objects_are_claimed_again_failed_ones_only_with_a_new_etag(
    table: StateTable,
) -> None:
    claims = Claims(table)
    assert claims.skip_object("b", "a.jpg", "empty_object", None, NOW)
    assert isinstance(claims.claim_object(head("a.jpg"), "b", "one", NOW, NOW + 10), Taken)
    assert not claims.skip_object("b", "a.jpg", "empty_object", None, NOW)  # claimed: kept
    taken = claims.claim_object(head("c.jpg"), "b", "one", NOW, NOW + 10)
    assert isinstance(taken, Taken)
    claims.finish(taken.claim, t.FAILED, NOW, sets={t.REASON: "Access denied"})
    again = claims.claim_object(head("c.jpg"), "b", "two", NOW, NOW + 10)
    assert isinstance(again, Settled) and again.state == t.FAILED
    assert isinstance(claims.claim_object(head("c.jpg", "e2"), "b", "two", NOW, NOW + 10), Taken)


def test_a_claim_released_unsent_is_fresh_again(table: StateTable) -> None:
    claims = Claims(table)
    taken = claims.claim_object(head("a.jpg"), "b", "one", NOW, NOW + 100)
    assert isinstance(taken, Taken)
    claims.release(taken.claim, NOW, in_flight=False)
    again = claims.claim_object(head("a.jpg"), "b", "two", NOW + 1, NOW + 100)
    assert isinstance(again, Taken) and not again.claim.fate_unknown


def test_members_join_an_open_group_and_arrive_late_once_it_is_frozen(
    table: StateTable,
) -> None:
    groups = Groups(table)
    assert groups.join("b", "f", "image_group", head("f/1.png"), NOW).result == ADDED
    assert groups.join("b", "f", "image_group", head("f/1.png"), NOW + 1).result == DUPLICATE
    assert groups.join("b", "f", "image_group", head("f/2.png"), NOW + 2).result == ADDED
    record = groups.get("b", "f")
    assert record is not None and record[t.MEMBERS] == 2 and record[t.LAST_SEEN] == NOW + 2
    stale = dict(record, **{t.LAST_SEEN: NOW})
    assert not groups.freeze("b", "f", stale, "me", NOW + 100, NOW + 3)  # a member came since
    assert groups.freeze("b", "f", record, "me", NOW + 100, NOW + 3)
    assert [m[t.KEY] for m in groups.members("b", "f")] == ["f/1.png", "f/2.png"]
    late = groups.join("b", "f", "image_group", head("f/3.png"), NOW + 4)
    assert (late.result, late.group_state) == (LATE, t.REGISTERING)
    assert groups.join("b", "f", "image_group", head("f/1.png", "e9"), NOW + 5).result == (
        REUPLOADED
    )
    assert [m[t.KEY] for m in groups.members("b", "f")] == ["f/1.png", "f/2.png"]
    assert groups.record_late("b", "f", head("f/3.png"), t.REGISTERING, NOW + 4)
    assert not groups.record_late("b", "f", head("f/3.png"), t.REGISTERING, NOW + 6)


def test_one_chain_of_checks_per_group(table: StateTable) -> None:
    groups = Groups(table)
    groups.join("b", "f", "image_group", head("f/1.png"), NOW)
    assert groups.schedule("b", "f", NOW + 300, {"m1"}, NOW - 900)
    assert groups.schedule("b", "f", NOW + 300, {"m1", "m7"}, NOW - 900)  # m1's retry
    assert not groups.schedule("b", "f", NOW + 300, {"m2"}, NOW - 900)  # a chain is alive
    assert groups.schedule("b", "f", NOW + 2000, {"m3"}, NOW + 1000)  # ...unless long overdue
    # The next link: only one of two chains moves the check forward.
    assert groups.reschedule("b", "f", NOW + 2300, {"c1"})
    assert not groups.reschedule("b", "f", NOW + 2300, {"c2"})
    assert groups.reschedule("b", "f", NOW + 2300, {"c1"})  # c1's retry


def test_error_records_are_written_for_failures_and_removed_after_a_success(
    table: StateTable,
) -> None:
    first = Ledger(
        [
            {"messageId": "m1", "body": "{}", "attributes": {"ApproximateReceiveCount": "1"}},
            {"messageId": "m2", "body": "{}", "attributes": {"ApproximateReceiveCount": "1"}},
        ]
    )
    first.fail(["m1"], t.ERROR_POISON, "not an event")
    first.record(table, NOW)
    record = table.get(t.error_pk("m1"), t.ERROR_SK)
    assert record is not None
    assert (record[t.REASON], record[t.ERROR_KIND], record[t.LISTING]) == (
        "not an event",
        t.ERROR_POISON,
        t.LISTING_ERROR,
    )
    assert record[t.TTL] == int(NOW) + t.ERROR_TTL_SECONDS
    assert table.get(t.error_pk("m2"), t.ERROR_SK) is None
    second = Ledger([{"messageId": "m1", "attributes": {"ApproximateReceiveCount": "2"}}])
    second.record(table, NOW + 1)
    assert table.get(t.error_pk("m1"), t.ERROR_SK) is None


class CountingClient:
    """The DynamoDB client, counting the requests made through it by operation."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def call(**request: object) -> object:
            self.calls[name] += 1
            return attribute(**request)

        return call


def test_a_job_is_recorded_once_for_all_its_objects_and_found_by_the_next_owner(
    table: StateTable,
) -> None:
    claims = Claims(table)
    taken = [claims.claim_object(head(f"{n}.jpg"), "b", "one", NOW, NOW + 100) for n in range(3)]
    held = [result.claim for result in taken if isinstance(result, Taken)]
    assert len(held) == 3
    counting = CountingClient(table.client)
    table.client = counting
    stored = claims.store_jobs(held, "job-1", NOW)
    assert all(stored.values()) and [c.job for c in held] == ["job-1"] * 3
    assert counting.calls == Counter({"batch_write_item": 1})  # one write for the whole job
    record = table.get(held[0].pk, t.OBJECT_SK)
    assert record is not None and t.JOB not in record  # the claim itself is not rewritten
    # The owner dies; the next invocation takes over and polls the same job.
    fresh = Claims(table)  # another container
    later = fresh.claim_object(head("1.jpg"), "b", "two", NOW + 101, NOW + 200)
    assert isinstance(later, Taken) and later.claim.job == "job-1"
    assert not later.claim.fate_unknown
    # ...and writes it on the claim, so that whoever takes over from it finds it there.
    record = table.get(held[1].pk, t.OBJECT_SK)
    assert record is not None and (record[t.OWNER], record[t.JOB]) == ("two", "job-1")
    third = Claims(table).claim_object(head("1.jpg"), "b", "three", NOW + 201, NOW + 300)
    assert isinstance(third, Taken) and third.claim.job == "job-1"
    # An object of the dead owner that no page names was never known to be sent.
    lost = claims.claim_object(head("9.jpg"), "b", "one", NOW, NOW + 100)
    assert isinstance(lost, Taken)
    orphan = fresh.claim_object(head("9.jpg"), "b", "two", NOW + 101, NOW + 200)
    assert isinstance(orphan, Taken) and orphan.claim.fate_unknown


def test_results_are_whole_records_written_in_batches(table: StateTable) -> None:
    claims = Claims(table)
    held = []
    for n in range(30):
        result = claims.claim_object(head(f"{n}.jpg", f"tag{n}"), "b", "one", NOW, NOW + 100)
        assert isinstance(result, Taken)
        held.append(result.claim)
    held[0].has_sidecar = True  # a sidecar waited: the flag stays for a later claim
    counting = CountingClient(table.client)
    table.client = counting
    results = [(c, t.REGISTERED, {t.ITEM: f"item-{c.name}", t.JOB: "job-1"}) for c in held[:29]]
    results[0][2][t.SIDECAR] = "0.jpg.json"
    results.append((held[29], t.FAILED, {t.REASON: "Encord refused it"}))
    claims.settle(results, NOW + 1)
    assert counting.calls == Counter({"batch_write_item": 2})  # 25 a request
    first = table.get(held[0].pk, t.OBJECT_SK)
    assert first is not None
    assert first[t.STATE] == t.REGISTERED and first[t.ITEM] == "item-0.jpg"
    assert (first[t.ETAG], first[t.SIZE], first[t.STORAGE_CLASS]) == ("tag0", 10, "STANDARD")
    assert first[t.HAS_SIDECAR] and first[t.SIDECAR] == "0.jpg.json"
    assert t.OWNER not in first and t.LEASE_UNTIL not in first
    # A repeated event is settled by the record: registered, or failed with the same tag.
    again = claims.claim_object(head("0.jpg", "tag0"), "b", "two", NOW + 2, NOW + 100)
    assert isinstance(again, Settled) and again.state == t.REGISTERED
    failed = claims.claim_object(head("29.jpg", "tag29"), "b", "two", NOW + 2, NOW + 100)
    assert isinstance(failed, Settled) and failed.state == t.FAILED


def test_a_record_read_before_saves_the_writes_it_makes_useless(table: StateTable) -> None:
    claims = Claims(table)
    done = claims.claim_object(head("done.jpg"), "b", "one", NOW, NOW + 100)
    assert isinstance(done, Taken)
    claims.settle([(done.claim, t.REGISTERED, {t.ITEM: "item-1"})], NOW)
    assert claims.skip_object("b", "empty.jpg", "empty_object", None, NOW, head("empty.jpg"))
    keys = [(t.object_pk("b", k), t.OBJECT_SK) for k in ("done.jpg", "empty.jpg", "new.jpg")]
    known = table.get_many(keys, ("state", "etag", "reason", "detail"))
    assert set(known) == set(keys[:2])  # no record for new.jpg
    counting = CountingClient(table.client)
    table.client = counting
    settled = claims.claim_object(head("done.jpg"), "b", "two", NOW, NOW + 100, known[keys[0]])
    assert isinstance(settled, Settled)
    same = claims.skip_object(
        "b", "empty.jpg", "empty_object", None, NOW + 1, head("empty.jpg"), known[keys[1]]
    )
    assert same and not counting.calls  # a repeated event writes nothing
    assert not claims.skip_object(
        "b", "done.jpg", "empty_object", None, NOW, head("done.jpg"), known[keys[0]]
    )  # registered: never skipped over
    assert not counting.calls
    taken = claims.claim_object(head("new.jpg"), "b", "two", NOW, NOW + 100, None)
    assert isinstance(taken, Taken) and counting.calls == Counter({"put_item": 1})
    # A stale read costs one more write, never a wrong answer: the condition decides.
    stale = claims.claim_object(head("new.jpg"), "b", "three", NOW, NOW + 100, None)
    assert stale == Held(NOW + 100)
    changed = claims.skip_object(
        "b", "empty.jpg", "unknown_type", None, NOW + 2, head("empty.jpg"), known[keys[1]]
    )
    record = table.get(*keys[1])
    assert changed and record is not None and record[t.REASON] == "unknown_type"


def test_many_records_are_read_and_written_in_batches(table: StateTable) -> None:
    counting = CountingClient(table.client)
    table.client = counting
    table.write_many(puts=[(f"p{n}", "s", {"n": n}) for n in range(60)])
    found = table.get_many([(f"p{n}", "s") for n in range(0, 250)])
    assert sorted(record["n"] for record in found.values()) == list(range(60))
    assert counting.calls == Counter({"batch_write_item": 3, "batch_get_item": 3})
    table.write_many(deletes=[(f"p{n}", "s") for n in range(50)])
    assert len(table.get_many([(f"p{n}", "s") for n in range(60)])) == 10


class Throttling:
    """A client that leaves part of every batch unprocessed once (as DynamoDB does when it
    throttles), then does it."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, object]] = {}
        self.requests = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        self.requests += 1
        ((name, entries),) = RequestItems.items()
        done, left = (entries, []) if self.requests % 2 == 0 else (entries[:1], entries[1:])
        for entry in done:
            item = entry["PutRequest"]["Item"]
            self.items[item["pk"]["S"]] = item
        return {"UnprocessedItems": {name: left} if left else {}}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.requests += 1
        ((name, request),) = RequestItems.items()
        keys = request["Keys"]
        done, left = (keys, []) if self.requests % 2 == 0 else (keys[:1], keys[1:])
        found = [self.items[k["pk"]["S"]] for k in done if k["pk"]["S"] in self.items]
        unprocessed = {name: {**request, "Keys": left}} if left else {}
        return {"Responses": {name: found}, "UnprocessedKeys": unprocessed}


def test_what_dynamodb_leaves_unprocessed_is_sent_again() -> None:
    client = Throttling()
    table = StateTable(client, "state")
    table.write_many(puts=[(f"p{n}", "s", {"n": n}) for n in range(5)])
    assert len(client.items) == 5 and client.requests == 2
    found = table.get_many([(f"p{n}", "s") for n in range(5)])
    assert len(found) == 5 and client.requests == 4


def test_a_job_of_many_long_keys_spreads_over_pages_within_dynamodbs_item_size(
    table: StateTable,
) -> None:
    pks = [t.object_pk("b", f"{'deep/' * 180}{n:05d}.jpg") for n in range(1200)]  # ~1 KB each
    written = list(runs.pages("job-1", pks, NOW))
    assert len(written) > 1
    assert all(len(str(record[t.KEYS])) < t.RUN_PAGE_BYTES + 2_000 for _, _, record in written)
    assert [pk for _, _, record in written for pk in record[t.KEYS]] == pks
    pages = runs.RunPages(table)
    pages.write("one", "job-1", pks, NOW)
    assert pages.job_of("one", pks[-1]) == "job-1" and pages.job_of("one", "obj#b#x") is None
    assert runs.RunPages(table).job_of("two", pks[0]) is None


def test_a_job_encord_lost_is_not_taken_from_the_pages_again(table: StateTable) -> None:
    claims = Claims(table)
    first = claims.claim_object(head("a.jpg"), "b", "one", NOW, NOW + 100)
    assert isinstance(first, Taken)
    claims.store_jobs([first.claim], "job-1", NOW)
    assert claims.forget_job(first.claim, NOW + 1)  # Encord answers: no such job
    claims.release(first.claim, NOW + 1, in_flight=True)
    later = Claims(table).claim_object(head("a.jpg"), "b", "two", NOW + 2, NOW + 100)
    assert isinstance(later, Taken) and later.claim.job is None and later.claim.fate_unknown
