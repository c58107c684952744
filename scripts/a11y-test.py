#!/usr/bin/env python3
"""Accessibility of every page a person sees, in headless Chromium (selenium + chromium-driver):
axe-core (bundled by axe-selenium-python) on the sign-in page, the home page, the live view, a finished
review and any static HTML pages given (the stats page, a rendered document), failing on any serious
or critical violation; and the editor's whole flow by keyboard alone — sign in, paste a listing,
submit, follow the live view, edit a paragraph, override a verdict, approve, download — with
send_keys and no mouse click, each focused control showing a visible focus. Exit 0 when all passed."""
import argparse, pathlib, sys, tempfile, time

from axe_selenium_python import Axe
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

import browser_common
from browser_common import fail, wait

browser_common.NAME = "a11y test"

LISTING = """name: Keyboard Relay
tagline: Typed webhooks as a service
category: Developer Tools
pricing: Free tier; $20 per month
description: Keyboard Relay receives, verifies and retries webhooks, and hands your code typed events."""


def audit(driver, where, checked):
    """axe-core on the page as it is: fails on any serious or critical violation."""
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        fail(f"{where}: " + "; ".join(
            f"{v['impact']} {v['id']} ({v['help']}) on {len(v['nodes'])} element(s), e.g. {v['nodes'][0]['html'][:160]}: "
            f"{v['nodes'][0].get('failureSummary', '')[:400]}"
            for v in bad))
    checked.append(f"{where} ({len(results['passes'])} rules passed)")


def keys(driver, *sequence):
    ActionChains(driver).send_keys(*sequence).perform()


def focused(driver):
    return driver.switch_to.active_element


def visible_focus(driver):
    """The focused element draws a focus indicator: an outline or a box shadow."""
    return driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';")


def tab_to(driver, matches, what, limit=200):
    """Presses Tab until the focused element matches; checks each stop shows its focus."""
    for _ in range(limit):
        keys(driver, Keys.TAB)
        element = focused(driver)
        if element.tag_name != "body" and not visible_focus(driver):
            fail(f"no visible focus on <{element.tag_name} id='{element.get_attribute('id')}'> on the way to {what}")
        if matches(element):
            return element
    fail(f"Tab never reached {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("pages", nargs="*", help="static HTML files to audit too (the stats page, a rendered document)")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    downloads = tempfile.mkdtemp(prefix="panel-a11y-")
    driver = browser_common.browser(downloads, extra=["--allow-file-access-from-files"])
    checked = []
    try:
        # Sign in by keyboard: the token field has the focus when the page opens.
        driver.get(url + "/")
        audit(driver, "the sign-in page", checked)
        if focused(driver).get_attribute("id") != "token":
            tab_to(driver, lambda e: e.get_attribute("id") == "token", "the token field")
        keys(driver, args.token, Keys.ENTER)
        wait(lambda: driver.find_elements(By.ID, "new-review"), 60, "the home page after signing in")
        audit(driver, "the home page", checked)

        # Paste a listing and submit it.
        tab_to(driver, lambda e: e.get_attribute("id") == "listing-1", "the first listing field")
        keys(driver, LISTING)
        tab_to(driver, lambda e: e.tag_name == "button" and e.get_attribute("type") == "submit"
               and e.text.strip() == "Review", "the Review button")
        keys(driver, Keys.ENTER)
        wait(lambda: driver.find_elements(By.ID, "live") or driver.find_elements(By.CSS_SELECTOR, "[data-answered]"), 60,
             "the live view")
        if driver.find_elements(By.ID, "live"):
            audit(driver, "the live view", checked)
            if not driver.find_elements(By.CSS_SELECTOR, "#live-status[role=status][aria-live=polite]"):
                fail("the live view has no polite status line announcing finished personas")
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-answered=true]")) == 4, 120, "the finished review")
        review_url = driver.current_url
        audit(driver, "the review page", checked)

        # Edit a paragraph: open its editor, type, save.
        tab_to(driver, lambda e: e.tag_name == "summary" and "Edit" in e.text, "an 'Edit the paragraph' control")
        keys(driver, Keys.ENTER)
        area = tab_to(driver, lambda e: e.tag_name == "textarea", "the paragraph's text")
        if not (area.get_attribute("aria-label") or driver.find_elements(By.CSS_SELECTOR, f"label[for='{area.get_attribute('id')}']")):
            fail("the paragraph's text area has no accessible name")
        keys(driver, Keys.END, " Edited by keyboard.")
        tab_to(driver, lambda e: e.tag_name == "button" and "Save" in e.text, "Save the edit")
        keys(driver, Keys.ENTER)
        wait(lambda: "saved=1" in driver.current_url and "Edited by keyboard." in driver.page_source, 60, "the saved edit")

        # Override the first tool's verdict.
        tab_to(driver, lambda e: e.tag_name == "summary" and "Override" in e.text, "'Override the verdict'")
        keys(driver, Keys.ENTER)
        tab_to(driver, lambda e: e.tag_name == "select", "the verdict choice")
        keys(driver, Keys.ARROW_DOWN)
        tab_to(driver, lambda e: e.tag_name == "input" and e.get_attribute("name") == "note", "the override's note")
        keys(driver, "Checked by keyboard")
        tab_to(driver, lambda e: e.tag_name == "button" and e.text.strip() == "Override", "the Override button")
        keys(driver, Keys.ENTER)
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-override]"), 60, "the override on the page")

        # Approve, then download the Markdown.
        tab_to(driver, lambda e: e.tag_name == "button" and "Approve" in e.text, "Approve this review")
        keys(driver, Keys.ENTER)
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-approved=true]"), 60, "the approval")
        tab_to(driver, lambda e: e.get_attribute("id") == "download-md", "the Markdown download")
        keys(driver, Keys.ENTER)
        path = wait(lambda: next((p for p in pathlib.Path(downloads).glob("*.md")), None), 60, "the Markdown download")
        if "Edited by keyboard." not in path.read_text():
            fail("the downloaded Markdown does not have the keyboard edit")
        print("a11y test: signed in, reviewed, edited, overrode, approved and downloaded by keyboard alone, focus visible")
        audit(driver, "the approved review page", checked)

        driver.get(url + "/")
        audit(driver, "the home page with history", checked)
        for page in args.pages:
            driver.get(pathlib.Path(page).resolve().as_uri())
            audit(driver, pathlib.Path(page).name, checked)
        print("a11y test: axe-core found no serious or critical violation on " + ", ".join(checked))
        _ = review_url
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
