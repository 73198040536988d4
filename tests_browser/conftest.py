"""The browser suite: the built playground, served by `python -m http.server` on 127.0.0.1, in
Debian's Chromium driven by Playwright. Not part of `pytest -q` (tests/ is the testpaths); run it
with `python -m pytest tests_browser -q` (README: the browser playground). CNNSPEC_PLAYGROUND_SITE
names an already built site; otherwise the session builds one. CHROMIUM overrides /usr/bin/chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import STEP_TIMEOUT_MS, build_site, chromium, served


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    built = os.environ.get("CNNSPEC_PLAYGROUND_SITE")
    return Path(built) if built else build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def base_url(site):
    with served(site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors
