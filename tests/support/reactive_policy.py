# A response policy that reads the customer (tests/roleplay/test_roleplay.py, m07 solution): plain code, loaded like
# a student's.
def policy(view):
    """Read the customer: hear them out until the anger has clearly come down (but stop when more
    listening only frustrates them, or time runs short), apologise once it can land, settle within
    authority, record, close the loop."""
    hearing = ("listen", "ask", "empathise")
    can = {o["move"]: o for o in view["options"]}
    done, change = view["moves"], view["change"]
    left = view["patience"] - view["turn"]                  # turns before the customer gives up
    down = 100 * (view["start"]["anger"] - view["mood"]["anger"]) / max(view["start"]["anger"], 1)  # per cent
    hear = [m for m in hearing if m in can]
    heard = [m for m in done if m in hearing]
    tired = bool(heard) and done[-1] in hearing and change["satisfaction"] < 0   # more listening annoyed them
    if hear and not heard:
        return hear[0]                                      # first, let them talk
    if hear and not tired and down < 17 and left > 4:       # still fuming: keep hearing them out
        if "ask" in can and "ask" not in done and down >= 10 and left > 5:
            return "ask"                                    # the facts, once they have calmed a little
        return "empathise" if "empathise" in can else hear[0]    # empathy calms
    if "confirm" in can and left <= 1:
        return "confirm"
    for move in ("apologise", "ask", "offer_remedy", "record", "explain_policy", "recommend", "promise_followup",
                 "confirm"):
        if move in can and move not in done:
            if move == "ask" and (tired or down >= 25 or left <= 3):
                continue                                    # a question now would only hold them up
            if move == "offer_remedy":
                return f"offer_remedy:{can[move]['limit']}"   # fair, and within this role's authority
            return move
    for move in ("confirm", "apologise", "empathise", "listen", "offer_remedy"):
        if move in can:
            return f"offer_remedy:{can[move]['limit']}" if move == "offer_remedy" else move
    return next(m for m in can if m not in ("dismiss", "argue", "upsell")) if len(can) > 2 else view["options"][0]["move"]
