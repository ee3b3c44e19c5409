"""A Chinese font for matplotlib's charts (the console's, the class report's), or a plain word that there is none.

matplotlib draws a character its font lacks as an empty box, and its default fonts have no Chinese.
So every chart asks :func:`cjk_font` for an installed CJK family and puts it first. matplotlib
lists the fonts it knows in a cache made once, the first time it runs: a font installed after that
is not in it, and installing one "does not help". When the cache knows no CJK font, the system's
font folders are searched for one; one found is added (``FontManager.addfont``) and the cache
rewritten, so the next run finds it at once. With none at all, :data:`NO_FONT` says what to install
(once per process, as a warning: the charts still draw, with boxes for the Chinese).
"""
from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

# families with Simplified Chinese, best first (Debian's fonts-noto-cjk gives the first)
FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
            "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK JP", "Noto Sans CJK TC",
            "Droid Sans Fallback", "AR PL UMing CN")
# file names of the fonts above, to find one the cache does not know yet
FILES = re.compile(r"cjk|sourcehan|notosanssc|wqy|wenquanyi|msyh|simhei|pingfang|hiragino|droidsansfallback|uming",
                   re.I)
NO_FONT = ("没有找到中文字体：图表里的中文会显示成方框。请安装一个（Debian/Ubuntu：sudo apt-get install fonts-noto-cjk），"
           "然后重新运行。 / No Chinese font found: the Chinese in the charts shows as boxes. Install one (Debian/Ubuntu: "
           "sudo apt-get install fonts-noto-cjk) and run again.")


class NoChineseFont(UserWarning):
    """Charts are drawn without a Chinese font (their Chinese shows as boxes)."""


def _known(manager) -> str | None:
    names = {f.name for f in manager.ttflist}
    return next((n for n in FAMILIES if n in names), None)


@functools.cache
def cjk_font() -> str | None:
    """The best installed CJK font family matplotlib can use, or None (then a :class:`NoChineseFont` warning)."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _known(manager)
    if found is None:   # the cache may predate the font: look on the disk
        added = False
        for path in sorted(font_manager.findSystemFonts()):
            if FILES.search(Path(path).name):
                try:
                    manager.addfont(path)
                    added = True
                except (OSError, RuntimeError, ValueError):   # a file FreeType cannot read
                    continue
        found = _known(manager)
        if added and found:   # rewrite the stale cache, as matplotlib writes it, so the next run knows the font
            cache = Path(matplotlib.get_cachedir(), f"fontlist-v{font_manager.FontManager.__version__}.json")
            try:
                font_manager.json_dump(manager, cache)
            except OSError:
                pass
    if found is None:
        warnings.warn(NO_FONT, NoChineseFont, stacklevel=2)
    return found


def chart_rc() -> dict:
    """matplotlib rc settings that put the CJK font first (with DejaVu Sans for the rest)."""
    found = cjk_font()
    return {"font.family": "sans-serif", "font.sans-serif": ([found] if found else []) + ["DejaVu Sans"]}
