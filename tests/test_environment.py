"""The set-up contract: one pinned list shared by pip (requirements.lock) and conda
(environment.yml); the CI entry point runs exactly the README's test command."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import sync_env  # noqa: E402


def lock_pins():
    return sync_env.pinned_requirements(ROOT / "requirements.lock")


def test_lock_pins_every_package_exactly():
    pins = lock_pins()
    assert len(pins) > 50
    bad = [p for p in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+!\-]+", p)]
    assert not bad, f"unpinned lines in requirements.lock: {bad}"


def test_lock_covers_requirements_in():
    pinned = {re.split(r"==", p)[0].lower().replace("_", "-") for p in lock_pins()}
    wanted = []
    for line in (ROOT / "requirements.in").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            wanted.append(re.split(r"[\[<>=!~ ]", line)[0].lower().replace("_", "-"))
    missing = [w for w in wanted if w not in pinned]
    assert not missing, f"requirements.in names packages the lock does not pin: {missing}"


def test_environment_yml_agrees_with_lock():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert text == sync_env.render(ROOT / "requirements.lock"), \
        "environment.yml is stale: run `make environment.yml`"
    assert "python=3.11" in text


def test_environment_yml_lists_the_design_card_packages():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8").lower()
    for package in ("jupyterlab", "pandas", "seaborn", "statsmodels", "papermill", "nbval", "pytest"):
        assert re.search(rf"- {package}==", text), package


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == ["make test"]
    assert "make test" in readme and "make reports" in readme


def test_running_python_matches_requirement():
    assert sys.version_info[:2] == (3, 11)
