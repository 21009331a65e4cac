"""`fast_transactions` keeps moto's transaction semantics: all or nothing, with the reasons."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.emulators.moto_transactions import fast_transactions

REGION = "us-east-1"


def _table(client: Any) -> None:
    client.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _put(pk: str, state: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "t",
            "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, "state": {"S": state}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _update(pk: str, state: str, expected: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "t",
            "Key": {"pk": {"S": pk}, "sk": {"S": "x"}},
            "UpdateExpression": "SET #s = :new",
            "ConditionExpression": "#s = :old",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":new": {"S": state}, ":old": {"S": expected}},
        }
    }


def _state(client: Any, pk: str) -> str | None:
    item = client.get_item(TableName="t", Key={"pk": {"S": pk}, "sk": {"S": "x"}}).get("Item")
    return item["state"]["S"] if item else None


@pytest.mark.parametrize("patched", [False, True], ids=["moto", "fast_transactions"])
def test_a_cancelled_transaction_changes_nothing(patched: bool) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _table(client)
        client.put_item(
            TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "x"}, "state": {"S": "open"}}
        )
        client.put_item(
            TableName="t", Item={"pk": {"S": "b"}, "sk": {"S": "x"}, "state": {"S": "done"}}
        )
        with fast_transactions() if patched else contextlib.nullcontext():
            with pytest.raises(ClientError) as raised:
                client.transact_write_items(
                    TransactItems=[_put("new", "m"), _update("a", "closed", "open"), _put("b", "m")]
                )
            reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
            assert reasons == ["None", "None", "ConditionalCheckFailed"]
            # All or nothing: the new item is absent and `a` keeps its state.
            assert (_state(client, "new"), _state(client, "a"), _state(client, "b")) == (
                None,
                "open",
                "done",
            )
            client.transact_write_items(
                TransactItems=[_put("new", "m"), _update("a", "closed", "open")]
            )
            assert (_state(client, "new"), _state(client, "a")) == ("m", "closed")


def test_the_patch_is_undone_on_exit() -> None:
    from moto.dynamodb import models

    before = (models.copy, models.DynamoDBBackend.transact_write_items)
    with fast_transactions():
        assert models.DynamoDBBackend.transact_write_items is not before[1]
    assert (models.copy, models.DynamoDBBackend.transact_write_items) == before
