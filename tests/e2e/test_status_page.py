"""The status page in a real headless Chromium: demo assemblies followed to the end, the list with
progress, webhook delivery state and the resend button, the built-in inbox's verified deliveries,
and every value shown as text (an item whose fields hold markup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import tooling

from .conftest import aws_client, mint_from, start_local, stop_local

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"



@pytest.fixture(scope="module")
def demo(tmp_path_factory, example_assembly):
    """What ``make local`` runs: app.py's synthesized template with the inbox and the demo."""
    ready = tmp_path_factory.mktemp("demo") / "ready.json"
    process, info = start_local(["--app", str(example_assembly), "--inbox", "--demo"], ready)
    yield info
    code, output = stop_local(process)
    assert code == 0, output


def _plans(demo: dict) -> list[dict]:
    from transflow_runtime.local.demo import demo_plan

    return demo_plan(demo["demo_template"])


def test_make_locals_demo_webhooks_arrive_verified_in_the_inbox(demo):
    """The demo's assemblies use a template id app.py has a webhook target for, so each one that
    finishes is delivered to the built-in inbox, both signatures verified with its secret."""
    import json
    import time
    import urllib.request

    plans = _plans(demo)
    assert demo["demo_template"] == "tpl_basic_audio"  # app.py's only target (no default target)
    deadline = time.monotonic() + 90
    seen: dict = {}
    while time.monotonic() < deadline and len(seen) < len(plans):
        with urllib.request.urlopen(demo["api_url"] + "/_local/inbox", timeout=10) as answer:
            deliveries = json.loads(answer.read())["deliveries"]
        seen = {d["assembly_id"]: d for d in deliveries if d["assembly_id"] in {p["assembly_id"] for p in plans}}
        time.sleep(0.5)
    assert {p["assembly_id"]: seen.get(p["assembly_id"], {}).get("event") for p in plans} == {
        p["assembly_id"]: p["outcome"] for p in plans
    }
    assert all(d["verified"] and d["problem"] == "" for d in seen.values()), seen


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
    from transflow_runtime.local.demo import DEMO_USER

    plan = _plans(demo)[0]
    page = browser.new_page(viewport={"width": 900, "height": 900}, bypass_csp=True)
    page.goto(demo["api_url"] + "/")
    page.fill("#assembly-id", plan["assembly_id"])
    page.fill("#token", mint_from(demo, DEMO_USER))
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
    from transflow_runtime.local.demo import DEMO_USER

    plan = _plans(demo)[2]
    page = browser.new_page(bypass_csp=True)  # playwright evaluates its waits as strings
    page.goto(f"{demo['api_url']}/#id={plan['assembly_id']}&token={mint_from(demo, DEMO_USER)}")
    page.wait_for_function("document.body.dataset.terminal === 'true'", timeout=90_000)
    assert page.inner_text("[data-testid=badge]") == "❌ Error"
    assert page.inner_text("[data-testid=error]") == "TRANSCODE_FAILED"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-failed.png"), full_page=True)
    page.close()


def test_page_reports_a_rejected_token(demo, browser):
    page = browser.new_page(bypass_csp=True)  # playwright evaluates its waits as strings
    page.goto(f"{demo['api_url']}/#id={_plans(demo)[0]['assembly_id']}&token={mint_from(demo, 'someone-else')}")
    page.wait_for_function("document.getElementById('problem').textContent.length > 0", timeout=15_000)
    assert "403" in page.inner_text("#problem")
    page.close()


def test_page_shows_the_whole_loop_progress_webhook_state_resend_and_the_verified_inbox(demo, browser):
    from transflow_runtime.local.demo import DEMO_USER

    plans = _plans(demo)
    page = browser.new_page(viewport={"width": 1100, "height": 1000}, bypass_csp=True)
    page.goto(f"{demo['api_url']}/#token={mint_from(demo, DEMO_USER)}")
    page.wait_for_function("document.querySelectorAll('[data-testid=assembly-row]').length === 3", timeout=15_000)
    first = plans[0]["assembly_id"]
    row = f"[data-testid=assembly-row][data-assembly-id='{first}']"
    # delivered, as the webhook function recorded it after the inbox answered
    page.wait_for_selector(f"{row} [data-testid=notify-status]:text('delivered')", timeout=90_000)
    page.wait_for_selector(f"[data-testid=inbox-row][data-assembly-id='{first}']", timeout=15_000)
    inbox_row = page.locator(f"[data-testid=inbox-row][data-assembly-id='{first}']").first
    assert inbox_row.locator("[data-testid=inbox-event]").inner_text() == "completed"
    assert inbox_row.locator("[data-testid=inbox-verified]").inner_text() == "✔ verified"
    # send it again: a replay arrives in the inbox, verified too
    page.click(f"{row} [data-testid=resend]")
    page.wait_for_selector(f"{row} [data-testid=resend-notice]:text('sent again')", timeout=15_000)
    replay = f"[data-testid=inbox-row][data-assembly-id='{first}']:has([data-testid=inbox-event]:text('replay'))"
    page.wait_for_selector(replay, timeout=30_000)
    assert page.locator(replay).first.locator("[data-testid=inbox-verified]").inner_text() == "✔ verified"
    failed = plans[2]["assembly_id"]
    page.wait_for_selector(f"[data-testid=assembly-row][data-assembly-id='{failed}'] "
                           "[data-testid=row-state]:text('Error')", timeout=90_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-loop.png"), full_page=True)
    page.close()


MARKUP = '<img src=x onerror="window.__injected=1"><b id="injected">bold</b>'


def test_values_holding_markup_are_shown_as_text_never_as_html(demo, browser):
    import hashlib

    from transflow_runtime import StatusStore, assembly_id

    user = "markup-user"
    aid = assembly_id(hashlib.md5(b"markup").hexdigest(), "tpl_demo_audio", user)
    store = StatusStore(demo["table_name"], client=aws_client(demo, "dynamodb"))
    store.create(aid, user_id=user, template_id="tpl_demo_audio", message=MARKUP, steps_total=1,
                 uploads=[{"id": "u1", "name": MARKUP, "size": 10, "mime": MARKUP, "field": "file", "md5hash": "x"}])
    store.add_result(aid, MARKUP, {"id": "r1", "name": MARKUP, "ssl_url": "javascript:window.__injected=2"})
    store.fail(aid, MARKUP, MARKUP)
    page = browser.new_page(bypass_csp=True)  # playwright evaluates its waits as strings
    page.goto(f"{demo['api_url']}/#id={aid}&token={mint_from(demo, user)}")
    page.wait_for_function("document.body.dataset.terminal === 'true'", timeout=30_000)
    page.wait_for_selector("[data-testid=assembly-row]", timeout=15_000)
    assert page.inner_text("[data-testid=message]") == MARKUP
    assert page.inner_text("[data-testid=error]") == MARKUP
    assert MARKUP in page.inner_text("[data-testid=row-message]")
    assert MARKUP in page.inner_text("[data-testid=upload]")
    assert page.locator("#injected").count() == 0 and page.locator("img").count() == 0
    assert page.evaluate("window.__injected") is None
    link = page.locator("[data-testid=result-link]")
    assert link.inner_text() == MARKUP and link.get_attribute("href") is None  # javascript: never becomes a link
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-markup.png"), full_page=True)
    page.close()
