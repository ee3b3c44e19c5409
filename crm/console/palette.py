"""The console's colours, one place for its charts and its HTML: an SLA status, a pipeline stage."""
from __future__ import annotations

# background, text colour: red is late, amber is close, green is fine, grey is finished
SLA_COLOURS = {"overdue": ("#fde2e1", "#b71c1c"), "due_soon": ("#fff1cc", "#8a5300"),
               "ok": ("#e3f3e3", "#1b5e20"), "done": ("#eeeeee", "#555555")}
STAGE_COLOURS = {"qualified": "#90caf9", "proposal": "#64b5f6", "negotiation": "#1e88e5", "won": "#43a047",
                 "lost": "#9e9e9e"}
# the text on a stage's colour: dark on the light blues, white on the rest
STAGE_INK = {stage: "#0d2a4a" if stage in ("qualified", "proposal") else "#fff" for stage in STAGE_COLOURS}
