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

import html
import json
import os
from pathlib import Path

from crmlab.roleplay.engine import Session, replay
from crmlab.roleplay.messages import ENDS, MOOD, MOVES, ROLES, Refusal, check_lang, label
from crmlab.roleplay.scenario import RolePlay, load_roleplay
from crmlab.roleplay.scoring import score

BAR_COLOURS = {"satisfaction": "success", "trust": "info", "anger": "danger"}
# ipywidgets' HTML boxes break lines anywhere (break-all: fine for Chinese, but English words were cut in half,
# "service re covery"); in the player, lines break between words, and inside a word only when it cannot fit
CSS = ("<style>.roleplay-player .widget-html-content, .roleplay-player .widget-html-content pre "
       "{word-break: normal; overflow-wrap: break-word;}</style>")


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
        head = (CSS + f"<h3>{html.escape(sc.title.get(self.lang))}</h3>"
                f"<p>{html.escape(sc.situation.get(self.lang).replace('{name}', name))}</p>"
                f"<p><b>{self._t(('客户', 'Customer'))}{self._colon}</b>"
                f"{html.escape(sc.customer.title.get(self.lang).replace('{name}', name))}"
                + (f" · <b>{self._t(('你的角色', 'Your role'))}{self._colon}</b>{self._t(ROLES[s.role])}</p>" if s.role else
                   f" · <b>{self._t(('分工', 'Cast'))}{self._colon}</b>" + html.escape(self._t(("，", ", ")).join(
                       f"{m} {self._t(ROLES[r])}" for m, r in s.cast.items())) + "</p>"))
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
        self.w["message"] = w.HTML(html.escape(self.notice))
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
            self.w["limit"].value = (f"<span style='color:#555'>≤ {limit:g} 元（{role}的权限）</span>" if self.lang == "zh_CN"
                                     else f"<span style='color:#555'>≤ {limit:g} yuan (the {role}'s authority)</span>")
        bars = []
        for field in ("satisfaction", "trust", "anger"):
            bar = w.IntProgress(value=s.mood[field], min=0, max=100, bar_style=BAR_COLOURS[field],
                                description=f"{self._t(MOOD[field])} {s.mood[field]}",
                                style={"description_width": "110px"})
            self.w[f"bar_{field}"] = bar
            bars.append(bar)
        turns = self._t(("回合", "Turn"))
        bars.append(w.HTML(f"{turns} {s.turn} / {s.scenario.customer.patience}"))
        self.w["bars"].children = bars
        # who speaks, in words: an emoji font is not installed everywhere (a headless browser showed boxes)
        guest, you = f"<b>{html.escape(s.persona['name'])}{self._colon}</b>", f"<b>{self._t(('你', 'You'))}</b>"
        lines = [f"<p>{guest}{html.escape(self._text(s.opening))}</p>"]
        for t in s.turns:
            who = f" — {html.escape(t['by'])} · {self._t(ROLES[t['role']])}" if "by" in t else ""
            lines.append(f"<p style='text-align:right'><i>{html.escape(label(MOVES, t['move'], self.lang))}"
                         + (f" {t['args']['amount']:g}" if "amount" in t["args"] else "") + f"</i>{who} — {you}</p>")
            lines += [f"<p>{guest}{html.escape(self._text(r))}</p>" for r in t["reply"]]
        self.w["chat"].value = "".join(lines)
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
            # pre-wrap keeps the debrief's lines; breaking at words only (JupyterLab's widget HTML breaks
            # anywhere, which cut English words in half: "service re covery")
            self.w["result"].value = (f"<h4>{self._t(('结束', 'Ended'))}{self._colon}{html.escape(end)} · "
                                      f"{self._t(('得分', 'Score'))} {r['total']:g}/100</h4>"
                                      "<pre style='white-space: pre-wrap; word-break: normal; overflow-wrap: break-word; "
                                      "font-family: inherit'>" + html.escape(r["explanation"][self.lang]) + "</pre>")

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
            self.w["message"].value = f"<span style='color:#b71c1c'>{html.escape(exc.message(self.lang))}</span>"
            ok = False
        except Exception as exc:  # a handler's traceback would land in a log the student never sees
            self.w["message"].value = f"<span style='color:#b71c1c'>{html.escape(repr(exc))}</span>"
            ok = False
        self._refresh()
        return ok
