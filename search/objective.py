"""What the mapper, the DSE and the co-search can minimise per layer: the
objectives' names in one light module, so the CLI can offer them without
loading the compiled cost model."""

from __future__ import annotations

from typing import Literal, get_args

from dian.errors import MappingError

Objective = Literal["latency", "energy", "edp"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)


def check_objective(objective: str) -> None:
    """Raise :class:`MappingError` unless ``objective`` is one of :data:`OBJECTIVES`."""
    if objective not in OBJECTIVES:
        raise MappingError(f"the mapping objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}.")
