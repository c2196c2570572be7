"""Schemathesis hooks for the external contract run (``tests/test_openapi_contract.py``).

Two things JSON Schema cannot carry, taught to schemathesis the way its documentation says to:

* ``format: phone``: a phone-number string that must also parse as a dialable number. The
  generator learns the format (numbers with their country calling code, written the ways the
  pattern allows, which the server accepts whatever the ``country_code``), as one does for any
  custom format; strings that break the pattern are still generated as negative data.
* The few rules the server checks that no schema can state (``UNSTATED_RULES``, listed in every
  422's description: a number that matches the pattern but cannot be dialed, flow node references,
  template syntax, a value given twice, a private URL). ``positive_data_acceptance`` is told that
  a 422 is possible for the operations whose bodies have such fields (``openapi_contract.toml``),
  and the check below puts the precision back: a request the schema accepts may be refused with a
  422 only for one of those rules, and every other reason is a failure.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from callwright.api.errors import UNSTATED_RULES

_NANP = r"\+1( ?\([2-9][0-9]{2}\) ?| |-|\.)?[2-9][0-9]{2}( |-|\.)?[2-9][0-9]{2}( |-|\.)?[0-9]{4}"
_ELSEWHERE = st.sampled_from(["+44 20 7946 0958", "+33 1 42 68 53 00", "+49 30 901820", "+61 2 9374 4000"])

schemathesis.openapi.format("phone", st.from_regex(_NANP, fullmatch=True) | _ELSEWHERE)


@schemathesis.check
def positive_data_refused_only_for_unstated_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request the schema accepts gets a 422 only for a rule the document says the schema cannot state."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if is_unexpected_http_status_case(case):  # a coverage probe of the HTTP layer, not of the data
        return None
    if any(value is None for value in (case.path_parameters or {}).values()):
        # A stateful link filled a path parameter from a nullable field (a conversation's
        # `campaign_id` is null outside campaigns): "None" in a `format: uuid` path is not
        # schema-valid data.
        return None
    try:
        problems = json.loads(response.content)["detail"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"a 422 without FastAPI's `detail` list: {response.content[:500]!r}") from None
    stated = [p for p in problems if not isinstance(p, dict) or p.get("type") not in UNSTATED_RULES]
    if stated:
        raise AssertionError(
            "Schema-valid data was refused for a rule the schema could state:\n"
            + "\n".join(json.dumps(p)[:500] for p in stated)
        )
    return None
