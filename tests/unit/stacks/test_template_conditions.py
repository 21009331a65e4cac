"""`stacks.template_conditions`: which part of a policy each deploy-time switch governs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from stacks.template_conditions import (
    NO_VALUE,
    EmptyListError,
    StatementRule,
    conditional_document,
)


@pytest.fixture(scope="module")
def switches() -> dict[str, cdk.CfnCondition]:
    stack = cdk.Stack(cdk.App(), "Switches")
    return {
        marker: cdk.CfnCondition(stack, name, expression=cdk.Fn.condition_equals("a", "a"))
        for marker, name in (("<B2>", "B2"), ("<P2>", "P2"), ("<K>", "K"), ("L", "Listing"))
    }


def _all_of(conditions: frozenset[cdk.CfnCondition]) -> Any:
    """Stands in for the stack's combined conditions: a readable name."""
    names = "And".join(sorted(c.node.id for c in conditions))
    return type("Combined", (), {"logical_id": names})()


def _if(name: str, value: Any) -> dict[str, Any]:
    return {"Fn::If": [name, value, NO_VALUE]}


def test_elements_are_switched_by_the_slots_they_name(switches: dict[str, Any]) -> None:
    document = {
        "Statement": [{"Sid": "Read", "Resource": ["b1/p1*", "b1/<P2>*", "<B2>/p1*", "<B2>/<P2>*"]}]
    }
    (read,) = conditional_document(document, switches, _all_of)["Statement"]
    assert read["Resource"] == [
        "b1/p1*",
        _if("P2", "b1/<P2>*"),
        _if("B2", "<B2>/p1*"),
        _if("B2AndP2", "<B2>/<P2>*"),
    ]


def test_what_every_element_needs_switches_the_whole_statement(switches: dict[str, Any]) -> None:
    document = {
        "Statement": [
            {"Sid": "Always", "Resource": "b1/*"},
            {
                "Sid": "Decrypt1",
                "Resource": "<K>",
                "Condition": {"StringLike": {"ctx": ["<B2>", "<B2>/p1*", "<B2>/<P2>*"]}},
            },
        ]
    }
    always, decrypt = conditional_document(document, switches, _all_of)["Statement"]
    assert always == {"Sid": "Always", "Resource": "b1/*"}
    assert decrypt == _if(
        "B2AndK",
        {
            "Sid": "Decrypt1",
            "Resource": "<K>",
            "Condition": {"StringLike": {"ctx": ["<B2>", "<B2>/p1*", _if("P2", "<B2>/<P2>*")]}},
        },
    )


def test_rules_add_needs_and_drop_the_condition_block(switches: dict[str, Any]) -> None:
    document = {
        "Statement": [
            {"Sid": "Read", "Resource": "b1/*"},
            {
                "Sid": "List0",
                "Resource": "b1",
                "Condition": {"StringLike": {"s3:prefix": ["p1*", "<P2>*"]}},
            },
        ]
    }
    rule = StatementRule(r"List\d+", needs=switches["L"], no_condition_when=switches["<K>"])
    _, listing = conditional_document(document, switches, _all_of, [rule])["Statement"]
    statement = listing["Fn::If"][1]
    assert listing["Fn::If"][0] == "Listing"
    whole = switches["<K>"].logical_id  # the condition itself, as CloudFormation names it
    assert statement["Condition"] == {
        "Fn::If": [whole, NO_VALUE, {"StringLike": {"s3:prefix": ["p1*", _if("P2", "<P2>*")]}}]
    }


def test_a_list_that_could_be_left_empty_is_refused(switches: dict[str, Any]) -> None:
    document = {
        "Statement": [
            {"Sid": "Read", "Resource": "b1/*"},
            {"Sid": "Odd", "Resource": ["<B2>/<P2>*", "<K>"]},
        ]
    }
    with pytest.raises(EmptyListError, match="statement Odd: Resource could be left empty"):
        conditional_document(document, switches, _all_of)


def test_a_document_of_optional_statements_only_is_refused(switches: dict[str, Any]) -> None:
    with pytest.raises(EmptyListError, match="every statement"):
        conditional_document({"Statement": [{"Resource": "<K>"}]}, switches, _all_of)
