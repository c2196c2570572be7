"""A flow as a readable list of nodes for the agent page (what each node says or asks, what
answer it expects, where each answer goes). It reads any JSON an author may have typed, valid or
not, so the page can show a refused draft as well as a saved flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class NodeView:
    id: str
    kind: str  # "say", "ask" or "end"
    text: str
    expects: str = ""
    save_as: str = ""
    routes: list[tuple[str, str]] = field(default_factory=list)  # (when, node) pairs
    end: str = ""
    start: bool = False


def describe_expect(expect: Any, length: Any = None) -> str:
    """``yes_no``, ``{"choice": [...]}``, ``digits`` (with a length)... in words."""
    if isinstance(expect, dict) and isinstance(expect.get("choice"), list):
        return "one of: " + ", ".join(str(c) for c in expect["choice"])
    if isinstance(expect, dict) and "digits" in expect:
        spec = expect["digits"] if isinstance(expect["digits"], dict) else {}
        n = spec.get("length") or length
        return f"{n} digits" if n else "digits"
    if expect == "digits" and length:
        return f"{length} digits"
    if expect == "yes_no":
        return "yes or no"
    return "" if expect is None else str(expect)


def flow_nodes(flow: Any) -> list[NodeView]:
    """The nodes of a flow document in their written order; [] for anything that is not one."""
    if not isinstance(flow, dict) or not isinstance(flow.get("nodes"), dict):
        return []
    out: list[NodeView] = []
    for name, node in flow["nodes"].items():
        if not isinstance(node, dict):
            out.append(NodeView(str(name), "?", str(node)))
            continue
        kind = "ask" if node.get("ask") is not None else "say" if node.get("say") is not None else "end"
        view = NodeView(
            id=str(name), kind=kind, text=str(node.get(kind) or ""),
            expects=describe_expect(node.get("expect"), node.get("length")) if kind == "ask" else "",
            save_as=str(node.get("save_as") or ""), end=str(node.get("end") or ""),
            start=flow.get("start") == name,
        )
        branches = node.get("branches")
        if isinstance(branches, dict):
            view.routes += [(f"answer “{k}”" if k != "default" else "any other answer", str(v))
                            for k, v in branches.items()]
        if node.get("fallback") is not None:
            view.routes.append(("no usable answer", str(node["fallback"])))
        if node.get("next") is not None:
            view.routes.append(("then" if not view.routes else "otherwise", str(node["next"])))
        out.append(view)
    return out
