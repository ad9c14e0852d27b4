"""Tour step: Count-Min Sketch and top-K heavy hitters on a Zipf(1.1) stream (the bench's countmin case)."""

from __future__ import annotations

from . import Show

NAME = "countmin"
ORDER = 20
COMPONENT = "countmin"


def _errors(r, _b) -> str:
    a = r.accuracy
    if "underestimates" not in a:
        return ""
    under = "never under" if a["underestimates"] == 0 else f"MISMATCH: {a['underestimates']:.0f} underestimates"
    return f"{under}; max error {a['max_err_over_N']:.2e} x N (bound 1e-3 x N)"


SHOW = [
    Show("update (Zipf stream of str)", "sysprims update_many(list)", "naive md5 Count-Min update loop",
         "CountMinSketch.update_many(list of str)"),
    Show("query (distinct keys)", "sysprims query_many(list)", "Counter (exact) lookup loop",
         "CountMinSketch.query_many(list of str)", _errors),
    Show("update (Zipf stream of int64 ids)", "sysprims update_many(int64)", "floor: np.bincount (exact)",
         "CountMinSketch.update_many(int64 ids)", lambda r, b: "against the floor: exact np.bincount"),
    Show("top-100 (Zipf stream of str)", "sysprims TopK.update_many", "Counter.most_common (exact)",
         "TopK(100).update_many(list of str)", lambda r, b: f"recall {r.accuracy.get('recall', 0):.2f}"),
]
