"""One built HTML report opened in headless Chromium: the headline score is visible, and the
figures are inline SVG drawn with their words as text in the face matplotlib measured. The set-up installs Debian's chromium and chromium-driver when they are missing."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from analysis.build import plan_jobs, run_batch
from analysis.config import DATA_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def ensure_chromium() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and this user cannot apt-get install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], check=True, env=env,
                   capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def browser():
    ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-reports")
    jobs = plan_jobs(DATA_DIR, out_dir=out, province="bac-kan", period="2024-07")
    (result,) = run_batch(jobs, out_dir=out, executor="serial", progress=False)
    assert result.status == "built", result.error
    return out / "bac-kan" / "2024-07.html"


def test_headline_visible_and_figures_drawn_as_text(browser, report):
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    headline = browser.find_elements(By.CSS_SELECTOR, "p.headline")
    assert headline and headline[0].is_displayed()
    assert "82,88/100" in headline[0].text
    browser.execute_script("return document.fonts ? document.fonts.ready : null")
    figures = browser.execute_script("""
        return Array.from(document.querySelectorAll('figure svg[role=img]')).map(s => {
            const r = s.getBoundingClientRect();
            const t = s.querySelector('text');
            return [r.width, r.height, s.querySelectorAll('text').length,
                    t ? getComputedStyle(t).fontFamily : '', s.getAttribute('aria-label'),
                    Array.from(s.querySelectorAll('text')).map(e => e.textContent).join('|')];
        });""")
    assert len(figures) >= 3
    for width, height, n_text, family, label, words in figures:
        assert width >= 600 and height > 100 and n_text > 5, (width, height, n_text, label)
        assert family.startswith('"DejaVu Sans"'), family  # the face matplotlib measured with
        assert label
    words = "|".join(f[-1] for f in figures)
    for name in ("xã Lương Thượng", "xã Đồng Xá", "xã Cường Lợi", "Tổng điểm"):
        assert name in words, name
    # no id is used twice in the page (inline figures share one document)
    assert browser.execute_script("""
        const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id);
        return ids.length - new Set(ids).size;""") == 0
    assert "Báo cáo Chỉ số 766" in browser.title
