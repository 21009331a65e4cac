"""Does a bucket's CORS configuration let an origin load media in the browser?

Pure functions on the ``CORSRules`` list that GetBucketCors returns. S3 answers a
cross-origin request from the *first* rule whose origins and method match, so the
headers that rule exposes are the ones the browser sees; this module does the same. What
it requires is the stack's own rule (`registration.contract`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registration.contract import CORS_EXPOSED_HEADERS, CORS_METHODS, RANGE_HEADER
from registration.verify.policy_eval import wildcard_match

CorsRule = Mapping[str, Any]


@dataclass(frozen=True)
class OriginFinding:
    """What the CORS rules grant one origin: nothing missing, or the list of what is."""

    origin: str
    problems: tuple[str, ...]
    rule_ids: tuple[str, ...] = ()
    wildcard_origin: bool = False

    @property
    def ok(self) -> bool:
        """True when GET and HEAD are allowed with every needed header."""
        return not self.problems


def origin_matches(allowed: str, origin: str) -> bool:
    """S3 origin matching: exact, or with the (single) `*` wildcard; case-insensitive."""
    return wildcard_match(allowed, origin, case_sensitive=False)


def _lower_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.lower()]
    return [str(v).lower() for v in value]


def _first_rule(rules: Sequence[CorsRule], origin: str, method: str) -> CorsRule | None:
    for rule in rules:
        origins = [str(o) for o in rule.get("AllowedOrigins") or []]
        methods = [m.upper() for m in _lower_list(rule.get("AllowedMethods"))]
        if method in methods and any(origin_matches(o, origin) for o in origins):
            return rule
    return None


def _rule_label(rule: CorsRule) -> str:
    return f"rule {rule['ID']!r}" if rule.get("ID") else "the matching rule"


def check_origin(rules: Sequence[CorsRule], origin: str) -> OriginFinding:
    """Whether `rules` let `origin` GET and HEAD objects and read the range headers."""
    serving = [
        r
        for r in rules
        if any(origin_matches(str(o), origin) for o in r.get("AllowedOrigins") or [])
    ]
    if not serving:
        return OriginFinding(origin, (f"no CORS rule allows origin {origin}",))
    problems: list[str] = []
    used: dict[int, tuple[CorsRule, list[str]]] = {}
    missing_methods: list[str] = []
    for method in CORS_METHODS:
        rule = _first_rule(rules, origin, method)
        if rule is None:
            missing_methods.append(method)
        else:
            used.setdefault(id(rule), (rule, []))[1].append(method)
    if missing_methods:
        problems.append(f"no CORS rule allows {'/'.join(missing_methods)} from origin {origin}")
    for rule, methods in used.values():
        served = f"{_rule_label(rule)} (used for {'/'.join(methods)} from {origin})"
        exposed = _lower_list(rule.get("ExposeHeaders"))
        missing = [h for h in CORS_EXPOSED_HEADERS if h.lower() not in exposed]
        if missing:
            problems.append(f"{served} does not expose {', '.join(missing)}")
        allowed = _lower_list(rule.get("AllowedHeaders"))
        if "GET" in methods and not any(wildcard_match(a, RANGE_HEADER.lower()) for a in allowed):
            problems.append(f"{served} does not allow the {RANGE_HEADER} request header")
    rules_used = [rule for rule, _ in used.values()]
    wildcard = any("*" in str(o) for r in rules_used for o in r.get("AllowedOrigins") or [])
    ids = tuple(str(r["ID"]) for r in rules_used if r.get("ID"))
    return OriginFinding(origin, tuple(problems), ids, wildcard)
