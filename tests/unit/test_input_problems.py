"""The words a 4xx or a configuration error uses for what pydantic refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from maintenance_windows.domain.input_problems import field_problems, summary


class Host(BaseModel):
    id: int


class Body(BaseModel):
    hosts: list[Host]
    secret: str


def refusal(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        Body.model_validate(data)
    return refused.value


def test_each_problem_names_its_field_path_and_never_the_input() -> None:
    error = refusal({"hosts": [{"id": 1}, {"id": "hunter2"}]})
    assert field_problems(error) == [
        {"field": "hosts.1.id", "problem": "Input should be a valid integer, unable to parse string as an integer"},
        {"field": "secret", "problem": "Field required"},
    ]
    assert "hunter2" not in repr(field_problems(error)) + summary(error)


def test_a_problem_with_the_whole_input_is_named_as_asked() -> None:
    error = refusal(["not", "an", "object"])
    assert field_problems(error, whole="(body)") == [
        {"field": "(body)", "problem": "Input should be a valid dictionary or instance of Body"}
    ]
    assert summary(error) == ": Input should be a valid dictionary or instance of Body"
