#!/usr/bin/env python3
"""Drives `panel serve`'s real page in headless Chromium through WebDriver (Debian's chromium-driver,
selenium from PyPI): sign in with a token, submit the two reference listings, see the eight answers
arrive, edit one paragraph, approve, download the Markdown and find the edit in it; then submit a
hostile listing (the mock answers it with hostile text) and check that nothing in it ran, on the review
page and in the history. With --screenshot PATH it saves the finished comparison page instead of
testing (README's picture). Exit 0 when every step passed."""
import argparse, json, pathlib, sys, tempfile, time

from selenium.webdriver.common.by import By

from browser_common import browser, fail, wait

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ["fixtures/listings/azure-ai-foundry-realtime-voice.yaml", "fixtures/listings/mistral-3-small.yaml"]
HOSTILE = ("<script>document.title='pwned-script'</script><img src=x onerror=\"document.title='pwned-img';"
           "document.body.appendChild(Object.assign(document.createElement('div'),{id:'pwned'}))\">")


def sign_in(driver, url, token):
    driver.get(url + "/")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    wait(lambda: driver.find_elements(By.ID, "new-review"), 60, "the new-review form after signing in")


def submit(driver, url, texts):
    driver.get(url + "/")
    for index, text in enumerate(texts, start=1):
        if not driver.find_elements(By.ID, f"listing-{index}"):
            driver.find_element(By.ID, "add-listing").click()
        area = driver.find_element(By.ID, f"listing-{index}")
        area.clear()
        driver.execute_script("arguments[0].value = arguments[1];", area, text)
    driver.find_element(By.CSS_SELECTOR, "#new-review button[type=submit]").click()
    wait(lambda: "/reviews/r_" in driver.current_url, 60, "the review page")


def check_inert(driver, where):
    if driver.title.startswith("pwned"):
        fail(f"{where}: a script from listing or model text ran (title {driver.title!r})")
    if driver.find_elements(By.ID, "pwned"):
        fail(f"{where}: an event handler from listing or model text ran")
    if driver.find_elements(By.CSS_SELECTOR, "main script, main img[src=x]"):
        fail(f"{where}: hostile markup became elements")


def cross_site_requests_change_nothing(driver, url, token):
    """A page on another port of the same host (same site, so the session cookie goes along) posts to the
    API as the signed-in editor with no-cors fetches, through the canonical path and the spellings the
    router could match (//v1/…, /./v1/…, /v1//…, an encoded slash): no review may come of it."""
    import http.server, threading, urllib.request

    def reviews():
        request = urllib.request.Request(url + "/v1/reviews?limit=100", headers={"Authorization": "Bearer " + token})
        return len(json.load(urllib.request.urlopen(request, timeout=60))["reviews"])

    before = reviews()
    paths = ["/v1/reviews", "//v1/reviews", "/./v1/reviews", "/v1//reviews", "/v1/%2Freviews", "//v1/batches", "//v1/tokens"]
    page = f"""<!doctype html><title>attacker</title><script>
      const body = JSON.stringify({{listings: [{{name: "Forged", description: "Asked by another page."}}]}});
      Promise.allSettled({json.dumps([url + p for p in paths])}.map(target =>
        fetch(target, {{method: "POST", mode: "no-cors", credentials: "include", headers: {{"Content-Type": "text/plain"}}, body}})))
        .then(() => {{ document.title = "sent"; }});
    </script>"""

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
        wait(lambda: driver.title == "sent", 60, "the attacker page's requests")
    finally:
        server.shutdown()
    after = reviews()
    if after != before:
        fail(f"a page on another port created {after - before} review(s) as the signed-in editor")
    print(f"browser test: a page on another port posted {len(paths)} ways as the signed-in editor; nothing was created")


def api(url, token, method, path, body=None):
    """A JSON API request with the editor's token; the answer's JSON (None for an empty body)."""
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def publish(url, token, review_id):
    """Approves a review (confirming its contradicted claims) and publishes it; its slug."""
    api(url, token, "PATCH", f"/v1/reviews/{review_id}", {"approve": True, "confirm": True})
    return api(url, token, "POST", f"/v1/reviews/{review_id}/publication")["slug"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--hostile-name", default="Evil " + HOSTILE)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    downloads = tempfile.mkdtemp(prefix="panel-downloads-")
    driver = browser(downloads, *( (1280, 2200) if args.screenshot else (1280, 900) ))
    try:
        sign_in(driver, url, args.token)
        if not args.screenshot:
            cross_site_requests_change_nothing(driver, url, args.token)
        texts = [(ROOT / path).read_text() for path in REFERENCE]
        submit(driver, url, texts)
        review_url = driver.current_url
        # The live view: eight persona cards fill in as the answers stream, then the page shows the review.
        seen = {"finished": 0, "streaming": False}
        def progressed():
            cards = driver.find_elements(By.CSS_SELECTOR, ".persona-card")
            if cards:
                states = [c.get_attribute("data-state") for c in cards]
                seen["finished"] = max(seen["finished"], states.count("finished"))
                seen["streaming"] = seen["streaming"] or "streaming" in states
                return False
            return len(driver.find_elements(By.CSS_SELECTOR, "[data-answered=true]")) == 8
        wait(progressed, 60, "eight answers")
        print(f"browser test: live view showed {seen['finished']} finished cards (streaming seen: {seen['streaming']}); the review page has 8 answers")
        if not seen["streaming"] or seen["finished"] == 0:
            fail(f"the live view did not show the answers streaming in and finishing ({seen})")
        # Usable on a phone: at 390 px nothing but the tables' own scrolling area is wider than the screen.
        driver.set_window_size(390, 844)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
        if overflow > 1:
            fail(f"at phone width the page is {overflow} px wider than the screen")
        driver.set_window_size(1280, 2200 if args.screenshot else 900)
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
            print(f"browser test: screenshot written to {args.screenshot}")
            return
        # Edit one paragraph.
        edit = driver.find_elements(By.CSS_SELECTOR, "details.editor-form")
        form_details = [d for d in edit if d.find_elements(By.CSS_SELECTOR, "form.edit-form")][0]
        form_details.find_element(By.TAG_NAME, "summary").click()
        area = form_details.find_element(By.CSS_SELECTOR, "textarea[name=text]")
        area.clear()
        area.send_keys("Edited in the browser test: the Builder would wait for the GA release.")
        form_details.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lambda: "saved=1" in driver.current_url, 60, "the saved edit")
        if "Edited in the browser test" not in driver.page_source:
            fail("the edit is not on the review page")
        # Approve.
        driver.find_element(By.CSS_SELECTOR, "#approve button[type=submit]").click()
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-approved=true]"), 60, "the approval")
        # Download the Markdown.
        driver.find_element(By.ID, "download-md").click()
        path = wait(lambda: next((p for p in pathlib.Path(downloads).glob("*.md")), None), 60, "the Markdown download")
        markdown = path.read_text()
        if "Edited in the browser test" not in markdown:
            fail("the downloaded Markdown does not have the edit")
        if "approved by" not in markdown:
            fail("the downloaded Markdown does not say it was approved")
        print(f"browser test: edited, approved, downloaded {path.name} ({len(markdown)} bytes) with the edit")
        # Hostile listing and model text: inert on the live view, the review page and the history.
        hostile = json.dumps({"name": args.hostile_name, "tagline": HOSTILE, "description": "Described as " + HOSTILE,
                              "pricing": "$10 per month " + HOSTILE,
                              "url": "https://example.com/\"><script>document.title='pwned-url'</script>"})
        submit(driver, url, [hostile])
        check_inert(driver, "the live view")
        wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-answered=true]")) == 4, 60, "the hostile review")
        check_inert(driver, "the hostile review's page")
        # The paragraphs' claims are marked beside the hostile markup (contradicted: the listing says $10 per
        # month; unsupported: it names no licence), and the marks stay text too.
        if not driver.find_elements(By.CSS_SELECTOR, "mark.claim-contradicted") or not driver.find_elements(By.CSS_SELECTOR, "mark.claim-unsupported"):
            fail("the hostile review's claims are not marked")
        driver.find_element(By.CSS_SELECTOR, "mark.claim-contradicted").send_keys("")
        check_inert(driver, "the hostile review's page, a claim focused")
        if "&lt;script&gt;" not in driver.page_source and "<script>document" in driver.page_source:
            fail("hostile text is not escaped")
        # Community votes on the reference review's public page, as a reader: with JavaScript (counts updated in
        # place), changing the vote, then a plain form post (no script: a redirect back) — one reader, counted once.
        hostile_id = driver.current_url.split("/reviews/")[1].split("?")[0]
        reference_id = review_url.split("/reviews/")[1].split("?")[0]
        reference_slug = publish(url, args.token, reference_id)
        driver.get(url + "/p/" + reference_slug)
        def counts():
            return driver.find_elements(By.CSS_SELECTOR, "form.vote .vote-count")[0].text
        driver.find_elements(By.CSS_SELECTOR, "form.vote button[value=ship]")[0].click()
        wait(lambda: counts() == "1 reader · 1 ship / 0 skip", 30, "the vote counted in place")
        driver.find_elements(By.CSS_SELECTOR, "form.vote button[value=skip]")[0].click()
        wait(lambda: counts() == "1 reader · 0 ship / 1 skip", 30, "the changed vote")
        driver.execute_script(
            "const form = document.querySelector('form.vote'); const input = document.createElement('input');"
            "input.type = 'hidden'; input.name = 'verdict'; input.value = 'ship'; form.appendChild(input); form.submit();")
        wait(lambda: driver.current_url.endswith("#votes"), 30, "the page after a plain form post")
        if counts() != "1 reader · 1 ship / 0 skip":
            fail(f"after a plain form post the page says {counts()!r}")
        print("browser test: a reader voted with and without JavaScript and changed their vote; counted once")
        # Published: the hostile review's public page (no sign-in needed) stays inert too; unpublished, it is 404.
        slug = publish(url, args.token, hostile_id)
        driver.get(url + "/p/" + slug)
        check_inert(driver, "the hostile review's public page")
        if not driver.find_elements(By.CSS_SELECTOR, "mark.claim-contradicted"):
            fail("the public page does not mark the contradicted claims")
        api(url, args.token, "DELETE", f"/v1/reviews/{hostile_id}/publication")
        driver.get(url + "/p/" + slug)
        if "does not exist" not in driver.page_source:
            fail("an unpublished page is still shown to the public")
        print("browser test: the hostile review published, inert on its public page, 404 once unpublished")
        driver.get(url + "/")
        check_inert(driver, "the history")
        driver.get(review_url)
        check_inert(driver, "the first review")
        print("browser test: hostile listing and model text stayed inert on every page")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
