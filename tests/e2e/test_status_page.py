"""The status page in a real headless Chromium, following demo assemblies to the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import tooling

from .conftest import JWT_SECRET, start_local, stop_local, token_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"



@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ready = tmp_path_factory.mktemp("demo") / "ready.json"
    process, info = start_local(["--demo", "--jwt-secret", JWT_SECRET], ready)
    yield info
    code, output = stop_local(process)
    assert code == 0, output


@pytest.fixture(scope="module")
def browser():
    chromium = tooling.chromium()
    sync_api = tooling.module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield instance
        instance.close()


def test_page_follows_a_demo_assembly_to_completion(demo, browser):
    from transflow_runtime.local.demo import DEMO_USER, demo_plan

    plan = demo_plan()[0]
    page = browser.new_page(viewport={"width": 900, "height": 900})
    page.goto(demo["api_url"] + "/")
    page.fill("#assembly-id", plan["assembly_id"])
    page.fill("#token", token_for(DEMO_USER))
    page.click("#watch")
    page.wait_for_selector("[data-testid=badge]", timeout=15_000)
    page.wait_for_function("document.body.dataset.terminal === 'true'", timeout=60_000)

    assert page.inner_text("[data-testid=badge]") == "✅ Complete"
    assert page.inner_text("[data-testid=message]") == "Assembly completed"
    upload = plan["uploads"][0]
    assert page.inner_text("[data-testid=uploads-summary]") == "Uploads (1 files)"
    upload_text = page.inner_text("[data-testid=upload]")
    assert upload["name"] in upload_text and f"{upload['size'] / 1024:.1f} KB" in upload_text
    assert upload["mime"] in upload_text
    assert page.inner_text("[data-testid=results-summary]") == "Results (2 files)"
    links = page.eval_on_selector_all("[data-testid=result-link]", "els => els.map(e => e.href)")
    assert len(links) == 2 and all(link.startswith("https://cdn.example.com/demo/") for link in links)
    assert page.inner_text("[data-testid=bytes]").startswith(f"Bytes: {upload['size']:,} / {upload['size']:,}")
    assert page.inner_text("[data-testid=duration]").endswith("s")
    assert page.locator("[data-testid=error]").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-completed.png"), full_page=True)
    page.close()


def test_page_shows_the_error_of_a_failed_assembly(demo, browser):
    from transflow_runtime.local.demo import DEMO_USER, demo_plan

    plan = demo_plan()[2]
    page = browser.new_page()
    page.goto(f"{demo['api_url']}/#id={plan['assembly_id']}&token={token_for(DEMO_USER)}")
    page.wait_for_function("document.body.dataset.terminal === 'true'", timeout=90_000)
    assert page.inner_text("[data-testid=badge]") == "❌ Error"
    assert page.inner_text("[data-testid=error]") == "TRANSCODE_FAILED"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-failed.png"), full_page=True)
    page.close()


def test_page_reports_a_rejected_token(demo, browser):
    from transflow_runtime.local.demo import demo_plan

    page = browser.new_page()
    page.goto(f"{demo['api_url']}/#id={demo_plan()[0]['assembly_id']}&token={token_for('someone-else')}")
    page.wait_for_function("document.getElementById('problem').textContent.length > 0", timeout=15_000)
    assert "403" in page.inner_text("#problem")
    page.close()
