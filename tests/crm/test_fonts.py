"""A Chinese font for the charts (crm/fonts.py): found even when matplotlib's font cache was made before the
font was installed (the cache is then rewritten), and a plain word when there is none. Each case runs in a
process of its own with its own matplotlib cache (MPLCONFIGDIR), as a fresh machine would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CJK_FILES = [p for p in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",) if Path(p).exists()]


def python(code: str, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLCONFIGDIR=str(cache), PYTHONWARNINGS="default")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=600)


STALE = """
    import matplotlib.font_manager as fm
    fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if "CJK" not in f.name and "CJK" not in f.fname]
    fm.json_dump(fm.fontManager, fm.Path(fm.mpl.get_cachedir(), f"fontlist-v{fm.FontManager.__version__}.json"))
"""

DRAW = """
    import io, json, warnings
    from matplotlib.figure import Figure
    import matplotlib
    from crmlab.crm.fonts import chart_rc
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rc = chart_rc()
        with matplotlib.rc_context(rc):
            fig = Figure()
            fig.add_subplot().set_title("提交状态 客户关系管理")
            fig.savefig(io.BytesIO(), format="png")
    print(rc["font.sans-serif"][0])
    print(json.dumps([str(w.message) for w in seen], ensure_ascii=False))
"""


@pytest.mark.skipif(not CJK_FILES, reason="no CJK font installed (Debian: fonts-noto-cjk)")
def test_a_font_installed_after_matplotlibs_cache_was_made_is_found_and_the_cache_mended(tmp_path):
    cache = tmp_path / "mpl"
    r = python(STALE, cache)   # a cache from before the font was installed: no CJK family in it
    assert r.returncode == 0, r.stderr
    [fontlist] = cache.glob("fontlist-*.json")
    assert "CJK" not in fontlist.read_text()
    r = python(DRAW, cache)
    assert r.returncode == 0, r.stderr
    family, warned = r.stdout.splitlines()
    assert family == "Noto Sans CJK SC"
    assert "missing from font" not in warned and "没有找到中文字体" not in warned   # every Chinese glyph drawn
    assert "Noto Sans CJK SC" in fontlist.read_text()     # the next run finds it in the cache at once
    r = python("import matplotlib.font_manager as fm; print(any(f.name == 'Noto Sans CJK SC' for f in fm.fontManager.ttflist))",
               cache)
    assert r.stdout.strip() == "True"


def test_without_any_chinese_font_the_charts_say_so_plainly(tmp_path):
    r = python(STALE + """
    fm.findSystemFonts = lambda *a, **k: []          # a machine with no CJK font on its disk either
    """ + DRAW, tmp_path / "mpl")
    assert r.returncode == 0, r.stderr
    family, warned = r.stdout.splitlines()
    assert family == "DejaVu Sans"
    warned = json.loads(warned)
    said = [w for w in warned if "没有找到中文字体" in w]
    assert len(said) == 1 and "sudo apt-get install fonts-noto-cjk" in said[0] and "No Chinese font found" in said[0]


def test_crmlab_shows_the_missing_font_as_one_plain_line(tmp_path, capsys):
    import warnings

    from crmlab.crm.fonts import NO_FONT, NoChineseFont
    from crmlab.cli import _show_warning

    _show_warning(NO_FONT, NoChineseFont, "crm/fonts.py", 1)
    err = capsys.readouterr().err
    assert err == f"crmlab: warning: {NO_FONT}\n"
    assert warnings.showwarning is not _show_warning     # only while a command runs
