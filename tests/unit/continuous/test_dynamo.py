"""Values in and out of DynamoDB's attribute form, and the update expressions written."""

from __future__ import annotations

import pytest

from registration.continuous.dynamo import Update, decode, decode_record, encode


@pytest.mark.parametrize(
    "value",
    ["text", "", 0, 12, -3, 1.5, True, False, None, ["a", "b"], {"k": ["v", 1]}],
)
def test_values_round_trip(value: object) -> None:
    assert decode(encode(value)) == value


def test_whole_numbers_come_back_as_int() -> None:
    assert decode({"N": "1796131483.000"}) == 1796131483
    assert isinstance(decode({"N": "2.5"}), float)


def test_a_record_decodes_and_an_empty_item_is_none() -> None:
    assert decode_record({"pk": {"S": "a"}, "n": {"N": "2"}}) == {"pk": "a", "n": 2}
    assert decode_record({}) is None and decode_record(None) is None


def test_an_unstorable_value_is_refused() -> None:
    with pytest.raises(TypeError):
        encode(object())


def test_an_update_names_every_attribute_and_value() -> None:
    request = Update(
        "obj#b#k",
        "obj",
        sets={"state": "claimed", "lease_until": 10},
        removes=("job",),
        adds={"members": 1},
        raw_sets={"first_seen": "if_not_exists(#first_seen, :now)"},
        condition="attribute_not_exists(#state) OR #lease_until < :now",
        values={":now": 5},
    ).request("table")
    assert request["Key"] == {"pk": {"S": "obj#b#k"}, "sk": {"S": "obj"}}
    expression = request["UpdateExpression"]
    assert expression.startswith("SET ") and " REMOVE " in expression and " ADD " in expression
    names = request["ExpressionAttributeNames"]
    assert {"#state", "#lease_until", "#first_seen"} <= set(names)
    assert set(names.values()) == {"state", "lease_until", "job", "members", "first_seen"}
    # Every value the expressions use is given, and nothing more.
    values = request["ExpressionAttributeValues"]
    used = {
        word for word in expression.replace(",", " ").replace(")", " ").split() if word[0] == ":"
    }
    used |= {":now"}
    assert set(values) == used
