"""`bench.aws_meter`: DynamoDB item sizes, billed units and SQS requests, counted end to end.

Every expected figure is worked out by hand from AWS's documented billing rules (DynamoDB's
item sizes and capacity units, SQS's 64 KiB chunks), not from the module's code. The
end-to-end cases make real boto3 calls to moto in-process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse

from bench.aws_meter import AwsMeter, attribute_bytes, item_bytes, stored_bytes
from demo.continuous_resources import create_state_table
from registration.continuous import table as t

TABLE = "state"
Call = Callable[[Any], object]


def key(pk: str, sk: str = "obj") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def blob_item(pk: str, sk: str, size: int) -> dict[str, Any]:
    """An item of exactly `size` bytes: each attribute costs its name's bytes plus its value's,
    all ASCII here ("pk" + pk, "sk" + sk, "blob" + padding)."""
    padding = size - len("pk" + pk) - len("sk" + sk) - len("blob")
    return {**key(pk, sk), "blob": {"S": "x" * padding}}


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "héllo"}, 6),  # UTF-8 bytes: é takes two
        ({"N": "123"}, 3),  # 3 significant digits: ceil(3 / 2) + 1
        ({"N": "1234567"}, 5),  # ceil(7 / 2) + 1
        ({"N": "-0.0042"}, 2),  # the sign and leading zeros are not significant: "42"
        ({"B": b"\x00\x01\x02"}, 3),
        ({"BOOL": False}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["a", "bc"]}, 3),  # a set: the sum of its elements
        ({"NS": ["1", "12345"]}, 6),  # 2 + 4
        ({"L": []}, 3),  # 3 bytes of overhead, empty or not
        ({"L": [{"S": "ab"}, {"N": "7"}]}, 9),  # 3 + (1 + 2) + (1 + 2)
        ({"M": {"k": {"S": "v"}, "é": {"BOOL": True}}}, 10),  # 3 + (1 + 1 + 1) + (2 + 1 + 1)
        ({"M": {"xs": {"L": [{"NULL": True}]}}}, 11),  # 3 + (2 + 1 + (3 + (1 + 1)))
    ],
)
def test_attribute_sizes_follow_dynamodb_rules(value: dict[str, Any], size: int) -> None:
    assert attribute_bytes(value) == size


def test_trailing_zeros_of_a_number_are_not_significant() -> None:
    assert attribute_bytes({"N": "1500"}) == 2  # DynamoDB trims both ends: "15"


def test_an_item_is_its_names_plus_its_values() -> None:
    item = {**key("obj#b#k"), "size": {"N": "12345"}}
    assert item_bytes(item) == (2 + 7) + (2 + 3) + (4 + 4)  # 12345: ceil(5 / 2) + 1
    assert stored_bytes(item) == 22 + 100  # DynamoDB's 100 bytes of overhead per stored item
    assert item_bytes(blob_item("a", "obj", 1500)) == 1500
    assert item_bytes(LATE) == item_bytes(GROUP) == 26


def listed(pk: str, sk: str, listing: str) -> dict[str, Any]:
    """A record in the index: ("pk" + pk) + ("sk" + sk) + ("listing" + listing) + 6 bytes."""
    return {**key(pk, sk), t.LISTING: {"S": listing}, t.AT: {"S": "2026"}}


LATE = listed("l", t.LATE_SK, t.LISTING_LATE)  # 3 + 6 + 11 + 6 = 26 bytes
GROUP = listed("g", t.GROUP_SK, t.LISTING_GROUP)  # 3 + 5 + 12 + 6 = 26 bytes
SET_STATE = {
    "UpdateExpression": "SET #s = :v",
    "ExpressionAttributeNames": {"#s": t.STATE},
    "ExpressionAttributeValues": {":v": {"S": "open"}},
}
DROP_LISTING = {"UpdateExpression": "REMOVE #l", "ExpressionAttributeNames": {"#l": t.LISTING}}
SMALL_KEYS = [key("seed"), key("q", "m#1")]  # 11 and 1,500 bytes
TWO_KEYS = [key("seed"), key("large")]  # 11 and 4,097 bytes


@pytest.fixture
def dynamodb(offline_aws: str) -> Iterator[Any]:
    """A table shaped like the state table (pk/sk, the sparse `listing` index, projection ALL)
    holding `seed` (11 bytes), `edge` (4,096), `large` (4,097), partition `q` (three of 1,500
    bytes), and `LATE` and `GROUP` in the index (26 bytes each)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=offline_aws)
        create_state_table(client, TABLE)  # as the construct makes it
        seeded = [key("seed"), blob_item("edge", "obj", 4096), blob_item("large", "obj", 4097)]
        for item in [*seeded, LATE, GROUP, *(blob_item("q", f"m#{n}", 1500) for n in (1, 2, 3))]:
            client.put_item(TableName=TABLE, Item=item)
        yield client


def put(item: dict[str, Any]) -> Call:
    return lambda c: c.put_item(TableName=TABLE, Item=item)


def update(item_key: dict[str, Any], expression: dict[str, Any]) -> Call:
    return lambda c: c.update_item(TableName=TABLE, Key=item_key, **expression)


def get(pk: str, *, consistent: bool = False) -> Call:
    return lambda c: c.get_item(TableName=TABLE, Key=key(pk), ConsistentRead=consistent)


def query(pk: str, *, consistent: bool = False) -> Call:
    return lambda c: c.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=consistent,
    )


def put_if_absent_fails(c: Any) -> None:
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        c.put_item(
            TableName=TABLE, Item=key("seed"), ConditionExpression="attribute_not_exists(pk)"
        )


def transaction(c: Any) -> None:
    c.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": blob_item("a", "obj", 1500)}},
            {"Update": {"TableName": TABLE, "Key": key("seed"), **SET_STATE}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key("fresh"),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


def batch_write(c: Any) -> None:
    c.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": blob_item("a", "obj", 1500)}},
                {"PutRequest": {"Item": blob_item("b", "obj", 100)}},
                {"DeleteRequest": {"Key": key("seed")}},
            ]
        }
    )


def batch_get(keys: list[dict[str, Any]], *, consistent: bool = False) -> Call:
    return lambda c: c.batch_get_item(
        RequestItems={TABLE: {"Keys": keys, "ConsistentRead": consistent}}
    )


NEW_LATE = listed("new", t.LATE_SK, t.LISTING_LATE)
CASES = [
    # Writes: one unit per started KB of the item; UpdateItem and DeleteItem one; one more
    # for the index when the write puts a record in it, changes it there or takes it out.
    pytest.param(put(blob_item("a", "obj", 1024)), 0, 1, id="put-1024-bytes"),
    pytest.param(put(blob_item("a", "obj", 1025)), 0, 2, id="put-1025-bytes"),
    pytest.param(put(blob_item("a", "obj", 1500)), 0, 2, id="put-1500-bytes"),
    pytest.param(put(NEW_LATE), 0, 1 + 1, id="put-into-the-index"),
    pytest.param(update(key("seed"), SET_STATE), 0, 1, id="update"),
    pytest.param(update(key("g", t.GROUP_SK), SET_STATE), 0, 1 + 1, id="update-open-group"),
    pytest.param(update(key("l", t.LATE_SK), DROP_LISTING), 0, 1 + 1, id="out-of-the-index"),
    pytest.param(lambda c: c.delete_item(TableName=TABLE, Key=key("seed")), 0, 1, id="delete"),
    pytest.param(put_if_absent_fails, 0, 1, id="failed-condition-is-billed"),
    # Doubled in a transaction: a 2 KB put, a small update, a condition check.
    pytest.param(transaction, 0, 2 * 2 + 2 * 1 + 2 * 1, id="transaction"),
    pytest.param(
        lambda c: c.transact_write_items(
            TransactItems=[{"Put": {"TableName": TABLE, "Item": NEW_LATE}}]
        ),
        0,
        2 * 1 + 1,  # the index write is a standard one
        id="transaction-into-the-index",
    ),
    pytest.param(batch_write, 0, 2 + 1 + 1, id="batch-write-per-item"),
    # Reads: one unit per started 4 KB, halved when eventually consistent.
    pytest.param(get("seed", consistent=True), 1, 0, id="get"),
    pytest.param(get("seed"), 0.5, 0, id="get-eventual"),
    pytest.param(get("none"), 0.5, 0, id="get-missing"),
    pytest.param(get("edge", consistent=True), 1, 0, id="get-4096-bytes"),
    pytest.param(get("large", consistent=True), 2, 0, id="get-4097-bytes"),
    pytest.param(query("q", consistent=True), 2, 0, id="query-4500-bytes"),
    pytest.param(query("q"), 1, 0, id="query-eventual"),
    pytest.param(query("none", consistent=True), 1, 0, id="query-nothing-costs-one"),
    # 11 + 4,096 + 4,097 + 3 x 1,500 + 2 x 26 = 12,756 bytes: 4 units, halved
    pytest.param(lambda c: c.scan(TableName=TABLE), 4 / 2, 0, id="scan"),
    pytest.param(
        lambda c: c.transact_get_items(
            TransactItems=[{"Get": {"TableName": TABLE, "Key": k}} for k in SMALL_KEYS]
        ),
        2 + 2,  # two per item of up to 4 KB
        0,
        id="transact-get",
    ),
    # Each item on its own: 11 bytes 1 unit, 4,097 bytes 2 (halved when eventual).
    pytest.param(batch_get(TWO_KEYS), 1 / 2 + 2 / 2, 0, id="batch-get-eventual"),
    pytest.param(batch_get(TWO_KEYS, consistent=True), 1 + 2, 0, id="batch-get-consistent"),
]


@pytest.mark.parametrize(("call", "reads", "writes"), CASES)
def test_dynamodb_units(dynamodb: Any, call: Call, reads: float, writes: float) -> None:
    with AwsMeter() as meter:
        call(dynamodb)
    assert (meter.dynamodb_read_units, meter.dynamodb_write_units) == (reads, writes)
    assert meter.count("dynamodb") == 1 and meter.sqs_requests == 0


def test_binary_values_count_their_bytes(dynamodb: Any) -> None:
    item = {**key("b"), "data": {"B": b"\0" * 1000}}  # 3 + 5 + (4 + 1,000) = 1,012 bytes
    with AwsMeter() as meter:
        dynamodb.put_item(TableName=TABLE, Item=item)
    assert meter.dynamodb_write_units == 1


def test_a_retried_call_counts_once(dynamodb: Any) -> None:
    attempts: list[AWSPreparedRequest] = []

    def throttle_first(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        attempts.append(request)
        if len(attempts) > 1:
            return None  # moto answers
        body = b'{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}'
        return AWSResponse(request.url, 400, HTTPHeaders(), MockRawResponse(body))

    dynamodb.meta.events.register_first("before-send.dynamodb.GetItem", throttle_first)
    with AwsMeter() as meter:
        answer = dynamodb.get_item(TableName=TABLE, Key=key("seed"))
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1 and len(attempts) == 2
    assert meter.calls == {("dynamodb", "GetItem"): 1} and meter.dynamodb_read_units == 0.5


def test_unmetered_is_per_thread_and_the_meter_unwraps(dynamodb: Any) -> None:
    original = vars(BaseClient)["_make_request"]

    def get() -> None:
        dynamodb.get_item(TableName=TABLE, Key=key("seed"))

    def in_thread(target: Callable[[], None]) -> None:
        worker = threading.Thread(target=target)
        worker.start()
        worker.join()

    def get_unmetered() -> None:
        with meter.unmetered():
            get()

    with AwsMeter() as meter:
        get()  # counted
        with meter.unmetered():
            get()  # not counted
            in_thread(get)  # another thread meanwhile: counted
        in_thread(get_unmetered)  # another thread's own unmetered call: not counted
        get()  # counted
    get()  # the meter is off
    assert meter.calls == {("dynamodb", "GetItem"): 3} and meter.dynamodb_read_units == 1.5
    assert vars(BaseClient)["_make_request"] is original


def test_sqs_requests_are_64_kib_chunks(offline_aws: str) -> None:
    kib = 1024
    with mock_aws():
        sqs = boto3.client("sqs", region_name=offline_aws)
        url = sqs.create_queue(QueueName="events")["QueueUrl"]
        with AwsMeter() as meter:
            sqs.send_message(QueueUrl=url, MessageBody="x" * 64 * kib)  # 1
            # UTF-8 bytes count, not characters: 32 Ki "é" and an "x" are 64 KiB + 1 byte: 2
            sqs.send_message(QueueUrl=url, MessageBody="é" * 32 * kib + "x")
            # A batch's bodies together: 3 x 15 Ki "é" = 90 KiB: 2 (not one per message)
            entries = [{"Id": str(n), "MessageBody": "é" * 15 * kib} for n in range(3)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            # All five back: 64 + (64 + 1 byte) + 90 = 218 KiB + 1 byte: 4
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            empty = sqs.receive_message(QueueUrl=url)  # nothing visible: still 1
            handles = [
                {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in received
            ]
            sqs.delete_message_batch(QueueUrl=url, Entries=handles)  # 1
    assert len(received) == 5 and "Messages" not in empty
    assert meter.sqs_requests == 1 + 2 + 2 + 4 + 1 + 1
    assert meter.count("sqs") == 6 and meter.count("sqs", "ReceiveMessage") == 2
    assert meter.dynamodb_read_units == meter.dynamodb_write_units == 0
