"""Shared helpers of the browser tests: a JupyterLab server started by the test, headless Chromium
through Playwright, a folder for screenshots. What works on this machine and why: Debian's chromium at
/usr/bin/chromium (Playwright cannot download browsers here; without the flags that turn its background
networking off Chromium stalls on a closed network); the browser's and Jupyter's folders (config, data, runtime,
settings, workspaces, IPython, TMPDIR) kept inside the test's temp dir, so nothing is written to the home folder;
the server is ready when /api/status answers.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# for a test module's pytestmark: marked `browser`, skipped with the reason where chromium is missing
MARKS = [pytest.mark.browser,
         pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium "
                                                          "(apt-get install -y chromium)")]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(home: Path) -> dict:
    """The environment for a server of our own: Jupyter's folders in ``home`` (never the real home),
    no news pop-up, this environment's bin/ first on PATH (nbgrader runs `alembic` by name)."""
    settings = home / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
                TMPDIR=str(home))


def lab_argv(root: Path, port: int, token: str) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", f"--ServerApp.token={token}",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True", "--ServerApp.port_retries=0",
            "--FileContentsManager.delete_to_trash=False", f"--ServerApp.root_dir={root}"]


@contextlib.contextmanager
def serve(argv: list[str], env: dict, url: str, token: str, log_path: Path, cwd: Path | None = None,
          ready: str | None = None):
    """Start a Jupyter server with ``argv``, wait until it answers (``ready``, by default its
    ``/api/status``), stop it (only it) afterwards."""
    ready = ready or f"{url}/api/status?token={token}"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(ready, timeout=30)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited: {log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.25)
        else:
            pytest.fail(f"the server did not answer in time: {log_path.read_text(errors='replace')[-3000:]}")
        yield proc
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                                          headers={"Authorization": f"token {token}"}), timeout=5)
            proc.wait(timeout=10)
        except Exception:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


@contextlib.contextmanager
def voila_page(root: Path, home: Path, name: str, source: str):
    """Voila serving ``root/name``: a one-cell notebook with ``source`` (a widget as a standalone page).
    Yields the page's url. Single-notebook Voila has no /api/status: ready when the page answers."""
    (root / name).write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "voila", name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0"]
    with serve(argv, jupyter_env(home), url, "", home / "voila.log", cwd=root, ready=url):
        yield url


@contextlib.contextmanager
def chromium(profile_home: Path, locale: str = "zh-CN", viewport=(1400, 1900)):
    """A headless Debian Chromium driven by Playwright; yields a browser context."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            env=dict(os.environ, XDG_CONFIG_HOME=str(profile_home / "config"),
                     XDG_CACHE_HOME=str(profile_home / "cache")))
        try:
            yield browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale=locale)
        finally:
            browser.close()


def artifacts(tmp_path_factory) -> Path:
    """Where screenshots go: ``$CRMLAB_ARTIFACTS`` (kept for a person to look at) or the test's temp dir."""
    out = Path(os.environ.get("CRMLAB_ARTIFACTS") or tmp_path_factory.mktemp("screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out
