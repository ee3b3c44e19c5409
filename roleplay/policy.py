"""A response *policy*: a function that chooses the next move from what the employee can see.

Playing once in the player shows what a student did with one customer; a policy shows how they would
treat every customer. A policy is a plain function ``policy(view) -> choice``: ``view`` is what the
player shows (the customer's last line, the mood bars, the turn, the moves made so far and the moves
this role may make now), never the scenario's graph, rubric or seed; the choice is a move kind
(``"listen"``), or a remedy with its amount (``"offer_remedy:150"``, ``("offer_remedy", 150)`` or
``{"move": "offer_remedy", "amount": 150}``).

:func:`play_policy` runs a policy through a session to its end. The same function serves the student's
notebook (their policy on their own seed) and the grader (the student's policy, run in a sandboxed
process, on hidden seeds: ``grading/run/policy.py``): whatever runs the policy only ever answers with a
choice, and the engine — in the caller's process — decides what that move does.
"""
from __future__ import annotations

import copy

from crmlab.roleplay.engine import Session
from crmlab.roleplay.messages import MOVES, Refusal

def view(session: Session, by: str | None = None) -> dict:
    """What the employee sees before choosing the next move, as plain JSON data (in a group: member
    ``by``, whose role's moves are the options).

    ``node`` names the stage of this conversation (the situation behind the customer's line, e.g.
    ``"open"`` or ``"calmer"``); node names differ between scenarios, so a policy meant for several
    should decide from ``options``, ``moves`` and ``mood`` rather than from node names.

    ``start`` is the mood the customer came with and ``change`` what the last move did to it (the bars
    moving in the player): customers differ in temper, so how they take a move is worth watching."""
    last = session.turns[-1]["reply"][-1] if session.turns else session.opening
    before = session.turns[-2]["mood"] if len(session.turns) > 1 else session.start_mood
    change = {k: session.mood[k] - before[k] for k in session.mood} if session.turns else {k: 0 for k in session.mood}
    return {"scenario": session.scenario.id, "role": session.role, "turn": session.turn,
            "patience": session.scenario.customer.patience, "node": session.node, "said": dict(last),
            "mood": dict(session.mood), "start": dict(session.start_mood), "change": change,
            "moves": list(session.moves), "cost": session.cost,
            "options": [{"move": o["move"], "amount": o["amount"], "limit": o["limit"]} for o in session.options(by)]}


def parse_choice(choice) -> tuple[str, dict]:
    """A policy's answer → ``(move, args)``; anything else is refused as a bad choice."""
    amount = None
    if isinstance(choice, str):
        move, sep, text = choice.partition(":")
        if sep:
            try:
                amount = float(text)
            except ValueError:
                raise Refusal("bad_choice", choice=choice[:80]) from None
    elif isinstance(choice, (list, tuple)) and len(choice) == 2 and isinstance(choice[0], str):
        move, amount = choice
    elif isinstance(choice, dict) and isinstance(choice.get("move"), str) and set(choice) <= {"move", "amount"}:
        move, amount = choice["move"], choice.get("amount")
    else:
        raise Refusal("bad_choice", choice=repr(choice)[:80])
    move = move.strip()
    if move not in MOVES:
        raise Refusal("bad_choice", choice=repr(choice)[:80])
    if amount is None:
        return move, {}
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise Refusal("bad_amount", amount=repr(amount)[:40])
    return move, {"amount": float(amount)}


def play_policy(choose, scenario, role: str, seed: int, *, db=None, persona: dict | None = None) -> Session:
    """Play a whole conversation with ``choose(view) -> choice``. A choice the engine refuses (not
    this role's, not possible now, beyond the role's authority) or that is not a move at all ends the
    conversation where it stands: ``session.stopped`` then holds the turn and the refusal, and the
    unfinished conversation scores what it scores. Patience bounds the number of turns."""
    session = Session(scenario, role, seed, db=db, persona=copy.deepcopy(persona) if persona else None)
    session.stopped = None
    while not session.end:
        try:
            choice = choose(view(session))
            move, args = parse_choice(choice)
            session.play(move, **args)
        except Refusal as exc:
            session.stopped = {"turn": session.turn + 1, "code": exc.code, "zh": exc.message("zh_CN"),
                               "en": exc.message("en_US")}
            break
    return session


def load_policy(source: str, name: str = "policy"):
    """The function ``name`` defined by ``source``, run in a namespace of its own — so a policy that
    leans on anything defined elsewhere in the notebook fails here, as it would for the grader."""
    namespace: dict = {"__name__": "student_policy"}
    exec(compile(source, "<policy>", "exec"), namespace)   # the student's own code, in their own kernel
    fn = namespace.get(name)
    if not callable(fn):
        raise ValueError(f"the code defines no function '{name}' / 代码中没有定义函数 {name}")
    return fn
