"""The role-play player: a session as ipywidgets, turn by turn. In a notebook::

    from crmlab.roleplay.player import Player
    Player("hotpot_angry_guest", role="specialist", seed=my_seed)

The customer's lines, a mood bar per feeling, the moves the chosen role may make here as buttons
(a remedy with its amount), and at the end the score with its explanation. After every turn the
transcript is saved as JSON next to the notebook (``roleplay_<scenario>.json`` in the working folder,
i.e. inside the assignment folder), so grading can replay it with :func:`roleplay.replay`. Running
the cell again resumes from that file. Widgets tests use are in ``self.w`` by name; a button's
``click()`` runs its handler, so tests drive the player without a browser.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from crmlab.html import render
from crmlab.roleplay.engine import Session, replay
from crmlab.roleplay.messages import ENDS, MOOD, MOVES, ROLES, Refusal, check_lang, label
from crmlab.roleplay.scenario import RolePlay, load_roleplay
from crmlab.roleplay.scoring import score

BAR_COLOURS = {"satisfaction": "success", "trust": "info", "anger": "danger"}


def _html(template: str, **values) -> str:
    """A piece of the player's HTML, from its template in ``roleplay/templates/`` (autoescaped)."""
    return render("crmlab.roleplay", template, **values)


def transcript_path(scenario_id: str, folder: str | Path | None = None) -> Path:
    return Path(folder or Path.cwd()) / f"roleplay_{scenario_id}.json"


def save_transcript(transcript: dict, path: Path) -> None:
    """Atomic: a crash mid-write never leaves half a transcript for the grader."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(transcript, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class Player:
    """One student in a ``role``, or a group with a ``cast`` (member → role, the CRM show): then a
    selector says who plays the next turn, and the buttons are that member's role's moves."""

    def __init__(self, scenario: RolePlay | str, role: str | None = None, seed: int | None = None, *,
                 cast: dict[str, str] | None = None, lang: str = "zh_CN", save_to: str | Path | None = None,
                 db: str | Path | None = None):
        import ipywidgets as widgets
        if seed is None:
            raise TypeError("Player needs a seed / 需要种子 seed=…")
        self._widgets = widgets
        self.scenario = load_roleplay(scenario) if isinstance(scenario, str) else scenario
        self.lang = check_lang(lang)
        self.path = Path(save_to) if save_to else transcript_path(self.scenario.id)
        self.notice = ""
        self.session = self._resume(cast) or Session(self.scenario, role, seed, lang=lang, db=db, cast=cast)
        self.w: dict = {}
        self.widget = widgets.VBox(layout=widgets.Layout(max_width="900px"))
        self.widget.add_class("roleplay-player")
        self._build()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _resume(self, cast: dict | None) -> Session | None:
        if not self.path.is_file():
            return None
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved.get("scenario") != self.scenario.id or saved.get("cast") != cast:
                return None
            return replay(self.scenario, saved)
        except (Refusal, ValueError, KeyError, TypeError) as exc:
            msg = exc.message(self.lang) if isinstance(exc, Refusal) else str(exc)
            self.notice = ("保存的记录无法恢复，重新开始：" if self.lang == "zh_CN"
                           else "The saved transcript could not be restored; starting again: ") + msg
            return None

    # -- what the student sees -------------------------------------------------------------------
    def _t(self, pair) -> str:
        return pair[0] if self.lang == "zh_CN" else pair[1]

    def _text(self, d: dict) -> str:
        return d["zh"] if self.lang == "zh_CN" else d["en"]

    @property
    def _colon(self) -> str:
        return "：" if self.lang == "zh_CN" else ": "   # a full-width colon is Chinese punctuation only

    def _build(self):
        w, s, sc = self._widgets, self.session, self.scenario
        name = s.persona["name"]
        head = _html("player_head.html", title=sc.title.get(self.lang),
                     situation=sc.situation.get(self.lang).replace("{name}", name), colon=self._colon,
                     customer_label=self._t(("客户", "Customer")),
                     customer=sc.customer.title.get(self.lang).replace("{name}", name),
                     role_label=self._t(("你的角色", "Your role")), role=self._t(ROLES[s.role]) if s.role else "",
                     cast_label=self._t(("分工", "Cast")),
                     cast=self._t(("，", ", ")).join(f"{m} {self._t(ROLES[r])}" for m, r in (s.cast or {}).items()))
        self.w["head"] = w.HTML(head)
        self.w["member"] = w.Dropdown(options=[(f"{m} · {self._t(ROLES[r])}", m) for m, r in (s.cast or {}).items()],
                                      description=self._t(("轮到", "Playing")), layout=w.Layout(width="320px"))
        self.w["member"].observe(lambda _: self._refresh(), names="value")
        self.w["bars"] = w.VBox()
        self.w["chat"] = w.HTML()
        self.w["chat"].add_class("rp-chat")
        self.w["moves"] = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.w["amount"] = w.BoundedFloatText(value=0, min=0, max=self._limit(), step=10,
                                              description=self._t(("金额（元）", "Amount (yuan)")),
                                              style={"description_width": "initial"}, layout=w.Layout(width="230px"))
        self.w["amount"].add_class("rp-amount")
        self.w["limit"] = w.HTML()   # the role's authority beside the box, so a capped amount is no surprise
        self.w["limit"].add_class("rp-limit")
        self.w["member"].add_class("rp-member")
        self.w["message"] = w.HTML(_html("player_note.html", kind="text", text=self.notice))
        self.w["result"] = w.HTML()
        self.w["result"].add_class("rp-result")
        self.widget.children = [self.w["head"], self.w["bars"], self.w["chat"]] + \
            ([self.w["member"]] if s.cast is not None else []) + [self.w["moves"], self.w["message"], self.w["result"]]
        self._refresh()

    @property
    def member(self) -> str | None:
        """Who plays the next turn (a group), else None."""
        return self.w["member"].value if self.session.cast is not None and "member" in self.w else None

    def _limit(self) -> float:
        s = self.session
        role = s.cast[self.member] if s.cast is not None and self.member else s.role
        return max(s.scenario.roles[role].refund_limit, 0.0) if role else 0.0

    def _refresh(self):
        w, s = self._widgets, self.session
        if "amount" in self.w:
            limit = self._limit()
            self.w["amount"].max = limit
            role = self._t(ROLES[s.cast[self.member] if s.cast is not None and self.member else s.role]) \
                if (s.role or self.member) else ""
            self.w["limit"].value = _html("player_note.html", kind="limit",
                                          text=f"≤ {limit:g} 元（{role}的权限）" if self.lang == "zh_CN"
                                          else f"≤ {limit:g} yuan (the {role}'s authority)")
        bars = []
        for field in ("satisfaction", "trust", "anger"):
            bar = w.IntProgress(value=s.mood[field], min=0, max=100, bar_style=BAR_COLOURS[field],
                                description=f"{self._t(MOOD[field])} {s.mood[field]}",
                                style={"description_width": "110px"})
            self.w[f"bar_{field}"] = bar
            bars.append(bar)
        bars.append(w.HTML(_html("player_turn.html", label=self._t(("回合", "Turn")), turn=s.turn,
                                 patience=s.scenario.customer.patience)))
        self.w["bars"].children = bars
        turns = [{"move": label(MOVES, t["move"], self.lang),
                  "amount": f"{t['args']['amount']:g}" if "amount" in t["args"] else None,
                  "by": t.get("by"), "role": self._t(ROLES[t["role"]]) if "by" in t else None,
                  "reply": [self._text(r) for r in t["reply"]]} for t in s.turns]
        self.w["chat"].value = _html("player_chat.html", name=s.persona["name"], colon=self._colon,
                                     you=self._t(("你", "You")), opening=self._text(s.opening), turns=turns)
        buttons = []
        for name in [k for k in self.w if k.startswith("move_")]:
            del self.w[name]
        for opt in (s.options(self.member) if s.cast is None or self.member else []):
            b = w.Button(description=self._text(opt), layout=w.Layout(width="auto"),
                         button_style="warning" if opt["move"] in ("dismiss", "argue") else "")
            b.add_class(f"rp-move-{opt['move']}")   # for a browser test's selectors
            b.on_click(lambda _, move=opt["move"], amount=opt["amount"]: self.play(move, amount))
            self.w[f"move_{opt['move']}"] = b
            buttons.append(w.HBox([self.w["amount"], self.w["limit"], b]) if opt["amount"] else b)
        self.w["moves"].children = buttons
        if s.end:
            r = score(s)
            end = label(ENDS, s.end, self.lang)
            self.w["result"].value = _html("player_result.html", ended_label=self._t(("结束", "Ended")),
                                           colon=self._colon, end=end, score_label=self._t(("得分", "Score")),
                                           total=f"{r['total']:g}", explanation=r["explanation"][self.lang])

    # -- what the student does -------------------------------------------------------------------
    def play(self, move: str, needs_amount: bool = False) -> bool:
        """One move (from a button; in a group by the member selected); a refusal or anything
        unexpected is shown, never raised."""
        try:
            args = {"amount": float(self.w["amount"].value)} if needs_amount else {}
            self.session.play(move, self.member, **args)
            save_transcript(self.session.transcript, self.path)
            self.w["message"].value = ""
            ok = True
        except Refusal as exc:
            self.w["message"].value = _html("player_note.html", kind="refusal", text=exc.message(self.lang))
            ok = False
        except Exception as exc:  # a handler's traceback would land in a log the student never sees
            self.w["message"].value = _html("player_note.html", kind="refusal", text=repr(exc))
            ok = False
        self._refresh()
        return ok
