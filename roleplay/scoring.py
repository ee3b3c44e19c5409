"""Scoring a finished (or abandoned) session: the scenario's rubric, outcome figures, a debrief.

Pure functions of the session's state, so a replayed transcript scores the same.
"""
from __future__ import annotations

from crmlab.roleplay.messages import ENDS, MOOD, MOVES, label
from crmlab.roleplay.scenario import Criterion

# how likely the customer is to leave, by how the conversation ended, before the mood counts
END_CHURN = {"resolved": 0.05, "escalated": 0.2, "leaves": 0.5, "public": 0.6, None: 0.4}


def churn_risk(mood: dict, end: str | None) -> float:
    """0–1: the ending's base risk plus what low satisfaction and trust and high anger add.
    A teaching figure, not a fitted model: the simulator's churn hazard also falls with satisfaction."""
    unhappy = (100 - mood["satisfaction"]) * 0.5 + (100 - mood["trust"]) * 0.3 + mood["anger"] * 0.2
    return round(min(1.0, END_CHURN[end] + 0.4 * unhappy / 100), 3)


def _credit(c: Criterion, state: dict) -> float:
    moves, end = state["moves"], state["end"]
    if c.kind == "played":   # made, and not so early that it backfired
        landed = state.get("landed", moves)
        return sum(m in landed for m in c.moves) / len(c.moves)
    if c.kind == "avoided":
        return float(not any(m in moves for m in c.moves))
    if c.kind == "before":
        if c.first not in moves:
            return 0.0
        later = [moves.index(t) for t in c.then if t in moves]
        return float(not later or moves.index(c.first) < min(later))
    if c.kind == "end":
        return float(end in c.ends)
    if c.kind == "mood":
        value = state["mood"][c.field]
        if c.field == "anger":  # lower is better: full credit at or below ``to``
            return max(0.0, min(1.0, (c.from_ - value) / (c.from_ - c.to))) if c.from_ != c.to else float(value <= c.to)
        return max(0.0, min(1.0, (value - c.from_) / (c.to - c.from_))) if c.to != c.from_ else float(value >= c.to)
    if c.kind == "timing":   # every move made when the customer was ready for it; each one that was not costs a third
        return max(0.0, 1 - len(state.get("mistimed", [])) / 3)
    if c.kind == "cost":
        over = state["cost"] - c.limit
        return 1.0 if over <= 0 else max(0.0, 1 - over / max(c.limit, 1.0))
    raise AssertionError(c.kind)


def score(session) -> dict:
    """Rubric points (partial credit), total out of 100, outcome figures and a bilingual explanation."""
    state, sc = session.state, session.scenario
    lines, got, most = [], 0.0, 0.0
    for c in sc.rubric:
        credit = _credit(c, state)
        points = round(c.points * credit, 2)
        got, most = got + points, most + c.points
        lines.append({"id": c.id, "points": points, "of": c.points, "zh": c.label.zh, "en": c.label.en})
    outcome = {"end": state["end"], "satisfaction": state["mood"]["satisfaction"], "trust": state["mood"]["trust"],
               "anger": state["mood"]["anger"], "cost": state["cost"], "turns": state["turn"],
               "churn_risk": churn_risk(state["mood"], state["end"])}
    total = round(100 * got / most, 1)
    return {"total": total, "points": round(got, 2), "of": most, "criteria": lines, "outcome": outcome,
            "explanation": {lang: explain(lines, outcome, session, lang) for lang in ("zh_CN", "en_US")}}


def explain(lines: list[dict], outcome: dict, session, lang: str) -> str:
    zh = lang == "zh_CN"
    key = "zh" if zh else "en"
    out = []
    for line in lines:
        mark = "✓" if line["points"] == line["of"] else ("½" if line["points"] else "✗")
        out.append(f"{mark} {line[key]}：{line['points']:g}/{line['of']:g}" if zh
                   else f"{mark} {line[key]}: {line['points']:g}/{line['of']:g}")
    end = label(ENDS, outcome["end"], lang) if outcome["end"] else ("未结束" if zh else "not finished")
    mood = "，".join(f"{label(MOOD, f, lang)} {outcome[f]}" for f in ("satisfaction", "trust", "anger")) if zh \
        else ", ".join(f"{label(MOOD, f, lang)} {outcome[f]}" for f in ("satisfaction", "trust", "anger"))
    if zh:
        out.append(f"结果：{end}；{mood}；补救成本 {outcome['cost']:g} 元；流失风险 {outcome['churn_risk']:.0%}。")
    else:
        out.append(f"Outcome: {end}; {mood}; remedy cost {outcome['cost']:g} yuan; "
                   f"churn risk {outcome['churn_risk']:.0%}.")
    temperament = getattr(session, "temperament", None)
    if temperament is not None:   # revealed only now: what kind of customer this was
        out.append(temperament.note.zh if zh else temperament.note.en)
    for t in session.turns:  # the teaching notes of the moves made, in order: why each worked or not
        if t["note"]:
            out.append(f"· {label(MOVES, t['move'], lang)}：{t['note'][key]}" if zh
                       else f"· {label(MOVES, t['move'], lang)}: {t['note'][key]}")
    return "\n".join(out)
