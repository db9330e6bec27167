"""Continual-learning strategies, one small file each (see ``base.py`` for the interface).

``strategy:`` in a config is a name below or an import path ``package.module:Class`` to a
``Strategy`` subclass of your own (the current directory is importable).
"""

from __future__ import annotations

from spikereplay.imports import resolve_name
from spikereplay.strategies.base import Batch, Strategy

BUILTIN = {
    "naive": "spikereplay.strategies.naive:Naive",
    "joint": "spikereplay.strategies.naive:Joint",
    "er": "spikereplay.strategies.er:ER",
    "replay": "spikereplay.strategies.er:ER",  # phase 1's name for er; kept so its configs and results stay valid
    "er_ace": "spikereplay.strategies.er_ace:ERACE",
    "der": "spikereplay.strategies.der:DER",
    "derpp": "spikereplay.strategies.der:DERpp",
    "agem": "spikereplay.strategies.agem:AGEM",
    "lwf": "spikereplay.strategies.lwf:LwF",
    "ewc_on": "spikereplay.strategies.ewc_on:EWCOnline",
    "si": "spikereplay.strategies.si:SI",
}


def resolve_strategy(name: str) -> type[Strategy]:
    """The Strategy class of ``name``; ValueError naming the valid choices if there is none."""
    found = resolve_name(name, BUILTIN, "strategy")
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise ValueError(f"strategy {name!r} is not a subclass of spikereplay.strategies.Strategy")
    return found


__all__ = ["BUILTIN", "Batch", "Strategy", "resolve_strategy"]
