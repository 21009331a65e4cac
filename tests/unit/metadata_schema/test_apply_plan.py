"""Planning `--apply` against an organisation schema that already has keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registration.metadata_schema.apply import plan_apply
from registration.metadata_schema.model import KeySpec, KeyType, Schema
from registration.metadata_schema.wire import WireSchema, schema_from_wire

ORG = schema_from_wire(
    {
        "score": {"ty": "variant", "hint": "number"},
        "weather": {"ty": "enum", "values": ["rain", "sun"]},
        "clip": {"ty": "embedding", "size": 512, "api": None},
        "site": {"ty": "varchar", "max_length": 8192},
        "notes": {"ty": "text"},
        "old_flag": {"ty": "tombstone", "deleted_ty": {"ty": "boolean"}},
        "owner": {"ty": "user"},
    }
)


def test_adds_new_keys_extends_enums_and_reports_clashes_without_retyping() -> None:
    desired = Schema.of(
        [
            KeySpec("score", KeyType.NUMBER),  # same: unchanged
            KeySpec("weather", KeyType.ENUM, values=("fog", "rain")),  # extend with fog
            KeySpec("clip", KeyType.EMBEDDING, size=768),  # clash: size
            KeySpec("site", KeyType.UUID),  # varchar already holds UUIDs
            KeySpec("notes", KeyType.VARCHAR),  # text already holds short strings
            KeySpec("old_flag", KeyType.BOOLEAN),  # deleted in Encord: clash
            KeySpec("owner", KeyType.VARCHAR),  # unsupported type: clash
            KeySpec("altitude_m", KeyType.NUMBER),  # new
            KeySpec("keyframes", KeyType.KEYFRAMES),  # reserved: local only
        ]
    )
    plan = plan_apply(ORG, desired)

    assert [s.name for s in plan.add] == ["altitude_m"]
    assert plan.extend == (("weather", ("fog",)),)
    assert sorted(plan.unchanged) == ["notes", "score", "site"]
    assert {c.key: c.theirs for c in plan.clashes} == {
        "clip": "embedding(512)",
        "old_flag": "a deleted key",
        "owner": "user",
    }
    assert plan.local_only == ("keyframes",)
    assert plan.changes == 2


def test_a_string_type_is_never_narrowed_or_widened_over_an_existing_one() -> None:
    desired = Schema.of([KeySpec("site", KeyType.TEXT), KeySpec("score", KeyType.VARCHAR)])
    plan = plan_apply(ORG, desired)
    assert plan.changes == 0
    assert sorted(c.key for c in plan.clashes) == ["score", "site"]


def test_enum_options_past_encords_limit_are_a_clash() -> None:
    desired = Schema.of(
        [KeySpec("weather", KeyType.ENUM, values=tuple(f"w{i}" for i in range(254)))]
    )
    plan = plan_apply(ORG, desired)
    assert plan.extend == ()
    assert [c.key for c in plan.clashes] == ["weather"]


def test_empty_organisation_schema_adds_everything() -> None:
    desired = Schema.of([KeySpec("a", KeyType.BOOLEAN), KeySpec("b", KeyType.DATETIME)])
    plan = plan_apply(schema_from_wire(None), desired)
    assert [s.name for s in plan.add] == ["a", "b"] and plan.clashes == ()


def _specs(name: str) -> st.SearchStrategy[KeySpec]:
    scalar = st.sampled_from(
        [
            KeyType.NUMBER,
            KeyType.BOOLEAN,
            KeyType.VARCHAR,
            KeyType.TEXT,
            KeyType.DATETIME,
            KeyType.UUID,
        ]
    ).map(lambda t: KeySpec(name, t))
    enum = st.sets(st.sampled_from("abcdef"), min_size=1).map(
        lambda v: KeySpec(name, KeyType.ENUM, values=tuple(sorted(v)))
    )
    embedding = st.sampled_from([3, 512]).map(lambda n: KeySpec(name, KeyType.EMBEDDING, size=n))
    return st.one_of(scalar, enum, embedding)


def _schemas() -> st.SearchStrategy[Schema]:
    names = st.lists(st.sampled_from(["k1", "k2", "k3", "k4"]), unique=True, max_size=4)
    return names.flatmap(
        lambda ns: st.tuples(*[_specs(n) for n in ns]).map(lambda s: Schema.of(list(s)))
    )


@given(_schemas(), _schemas(), st.sets(st.sampled_from(["k1", "k2", "k3", "k4"])))
def test_a_plan_never_touches_an_existing_key_except_to_add_enum_options(
    theirs: Schema, ours: Schema, deleted: set[str]
) -> None:
    current = WireSchema(
        Schema.of([s for s in theirs if s.name not in deleted]), frozenset(deleted), {}
    )
    plan = plan_apply(current, ours)
    existing = current.names()
    assert not {s.name for s in plan.add} & existing
    for key, options in plan.extend:
        before = current.schema.get(key)
        assert before is not None and before.type is KeyType.ENUM
        assert not set(options) & set(before.values)
    accounted = [s.name for s in plan.add] + [k for k, _ in plan.extend]
    accounted += list(plan.unchanged) + [c.key for c in plan.clashes]
    assert sorted(accounted) == sorted(ours.keys)  # every inferred key has an outcome
