"""What pydantic found wrong with an input, one entry per problem, in words an answer or a log can carry.

Never the offending input itself: it may be a secret or personal data.
"""

from __future__ import annotations

from pydantic import ValidationError


def field_problems(
    error: ValidationError, *, whole: str = "", max_field_chars: int | None = None
) -> list[dict[str, str]]:
    """[{"field": "hosts.0.id", "problem": "Input should be a valid integer"}, ...]; `whole` names the input
    itself when the problem is not one field's; a field path longer than `max_field_chars` is cut there."""
    return [
        {"field": (".".join(str(part) for part in issue["loc"]) or whole)[:max_field_chars], "problem": issue["msg"]}
        for issue in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def summary(error: ValidationError) -> str:
    """One line: "field: problem; field: problem"."""
    return "; ".join(f"{problem['field']}: {problem['problem']}" for problem in field_problems(error))
