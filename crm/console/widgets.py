"""The console as ipywidgets over a :class:`~.model.ConsoleModel`: the header (title, clock, language),
the status line, the three tabs (:mod:`.tabs`), and the small builders they share."""
from __future__ import annotations

from pathlib import Path

from ..messages import Label
from . import fragments
from .model import ActionResult, ConsoleModel
from .tabs import CustomerTab, InboxTab, PipelineTab


class Console(CustomerTab, InboxTab, PipelineTab):
    """The console as widgets over a :class:`ConsoleModel`. Displays itself in Jupyter and Voila.

    Widgets that tests and the browser test use are in ``self.w`` by name, and carry the CSS
    class ``crm-<name>``. Switching the language rebuilds the widgets from the label table; what
    is selected (customer, ticket, opportunity, filters) lives in ``self.state`` and survives it."""

    def __init__(self, db: str | Path, user: str = "student", lang: str = "zh_CN", log: str | Path | None = None):
        import ipywidgets as widgets
        self._widgets = widgets
        self.model = ConsoleModel(db, user=user, lang=lang, log=log)
        self.state = {"tab": 0, "search": "", "results": [], "account": None, "ticket": None, "opportunity": None,
                      "status": "open", "sla": "all", "priority": "all", "assignee": "all"}
        self.w: dict = {}
        self.widget = widgets.VBox(layout=widgets.Layout(width="100%", max_width="1150px"))
        self.widget.add_class("crm-console")
        self._build()
        report = self.model.replay_report
        if report.applied or report.problems:
            self._show(report.ok, *report.messages(self.model.lang))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        self.widget.close()
        self.model.close()

    # -- small builders ---------------------------------------------------------------------------
    def _named(self, name: str, widget):
        widget.add_class(f"crm-{name}")
        self.w[name] = widget
        return widget

    def _button(self, name: str, label: str, handler, style: str = ""):
        b = self._named(name, self._widgets.Button(description=self.model.t(label), button_style=style,
                                                   layout=self._widgets.Layout(width="auto")))
        b.on_click(lambda _: self._guard(handler))
        return b

    def _dropdown(self, name: str, options, value=None, width: str = "auto", on_change=None):
        values = [v for _, v in options]
        d = self._named(name, self._widgets.Dropdown(options=options, value=value if value in values else (
            values[0] if values else None), layout=self._widgets.Layout(width=width)))
        if on_change:
            d.observe(lambda ch: self._guard(lambda: on_change(ch["new"])), names="value")
        return d

    def _text(self, name: str, value: str = "", placeholder: str = "", width: str = "160px"):
        return self._named(name, self._widgets.Text(value=value, placeholder=placeholder,
                                                    layout=self._widgets.Layout(width=width)))

    def _html(self, name: str, value: str = ""):
        return self._named(name, self._widgets.HTML(value))

    def _row(self, *children):
        return self._widgets.HBox(list(children), layout=self._widgets.Layout(align_items="center", flex_flow="row wrap"))

    def _guard(self, fn) -> None:
        """Run a handler; anything unexpected becomes a message, never a silent failure."""
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - shown to the learner instead of a traceback in a log
            self._show(False, self.model.say("ui_unexpected", detail=f"{type(exc).__name__}: {exc}"))

    def _show(self, ok: bool, *lines: str) -> None:
        """What an action did (``ok``) or why it was refused, in the status line; one line per message."""
        self.w["status"].value = fragments.status(ok, list(lines))

    def _act(self, op: str, *args, refresh, **kwargs) -> ActionResult:
        done = self.model.act(op, *args, **kwargs)
        self._show(done.ok, done.text)
        if done.ok:
            refresh()
        return done

    def _chosen(self, key: str, what: str) -> str | None:
        if not self.state[key]:
            self._show(False, self.model.say("ui_pick_first", what=Label("ui", what)))
            return None
        return self.state[key]

    # -- layout -----------------------------------------------------------------------------------
    def _build(self) -> None:
        W, m = self._widgets, self.model
        self.w = {}
        title = m.crm.meta.get("title_zh" if m.lang == "zh_CN" else "title_en", "")
        lang = self._named("lang", W.ToggleButtons(options=[("中文", "zh_CN"), ("English", "en_US")], value=m.lang,
                                                   style={"button_width": "78px"},
                                                   layout=W.Layout(width="auto", flex="0 0 auto")))
        lang.observe(lambda ch: self._guard(lambda: self._switch(ch["new"])), names="value")
        header = self._row(
            W.HTML(fragments.header(m.t("title"), title), layout=W.Layout(margin="0 auto 0 0")),
            self._html("clock"),
            self._button("plus_hour", "plus_hour", lambda: self._advance(hours=1)),
            self._button("plus_day", "plus_day", lambda: self._advance(days=1)),
            lang)
        for item in header.children:  # wrap onto a second line rather than squeeze a button
            item.layout.flex = "0 0 auto"
        status = self._html("status")
        tabs = self._named("tabs", W.Tab(children=[self._tab_360(), self._tab_inbox(), self._tab_pipeline()]))
        tabs.titles = [m.t("tab_360"), m.t("tab_inbox"), m.t("tab_pipeline")]
        tabs.selected_index = self.state["tab"]
        tabs.observe(lambda ch: self.state.update(tab=ch["new"]), names="selected_index")
        self.widget.children = [W.HTML(fragments.style()), header, status, tabs]
        self._refresh_clock()
        self._refresh_account()
        self._refresh_inbox()
        self._refresh_pipeline()

    def _switch(self, lang: str) -> None:
        self.model.lang = lang
        self._build()

    def _advance(self, **step) -> None:
        self.model.advance(**step)
        self._refresh_clock()
        self._refresh_inbox()

    def _refresh_clock(self) -> None:
        m = self.model
        self.w["clock"].value = fragments.clock(m.t("user"), m.crm.user, m.t("clock"), m.crm.now)
