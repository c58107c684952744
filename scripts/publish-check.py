#!/usr/bin/env python3
"""Publishing, end to end against a running `panel serve` (scripts/serve-check.sh starts one): a review is
asked, approved and published over the API; its public page's structured data is read with extruct (a
CriticReview by the publication about a SoftwareApplication with an offer, OpenGraph, never an
AggregateRating), the Atom feed with feedparser, the sitemap as XML; `panel publish` writes the same page as
a static file. Exit 0 when every check passed."""
import argparse, json, pathlib, subprocess, sys, tempfile, time, urllib.request, urllib.error
import xml.etree.ElementTree as ET

import extruct
import feedparser


def fail(message):
    print("publish check FAIL: " + message)
    sys.exit(1)


def request(url, path, token=None, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = "Bearer " + token
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--panel", default=".build/debug/panel")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    listing = {"name": "Published Tool", "tagline": "A tool worth a page", "category": "Developer Tools",
               "description": "It does one thing well.", "pricing": "$12 per seat per month", "url": "https://tool.example"}
    status, _, text = request(url, "/v1/reviews", args.token, "POST", {"listings": [listing]})
    if status != 202:
        fail(f"asking for a review answered {status}: {text}")
    review = json.loads(text)["id"]
    for _ in range(600):
        status, _, text = request(url, f"/v1/reviews/{review}", args.token)
        if json.loads(text)["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    status, _, text = request(url, f"/v1/reviews/{review}/publication", args.token, "POST")
    if status != 409:
        fail(f"publishing an unapproved review answered {status}, want 409")
    request(url, f"/v1/reviews/{review}", args.token, "PATCH", {"approve": True, "confirm": True})
    status, _, text = request(url, f"/v1/reviews/{review}/publication", args.token, "POST")
    if status != 201:
        fail(f"publishing answered {status}: {text}")
    slug = json.loads(text)["slug"]
    page_url = f"{url}/p/{slug}"
    status, headers, html = request(url, f"/p/{slug}")
    if status != 200 or not headers.get("ETag") or not headers.get("Last-Modified"):
        fail(f"the page answered {status} with headers {headers}")
    # The page carries a form token bound to the reader: a returning reader (the cookie it set) gets a 304.
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _, _ = request(url, f"/p/{slug}", headers={"If-None-Match": headers["ETag"], "Cookie": cookie})
    if status != 304:
        fail(f"the page with its ETag answered {status}, want 304")

    data = extruct.extract(html, base_url=page_url, syntaxes=["json-ld", "opengraph"], uniform=True)
    reviews = [item for item in data["json-ld"] if item.get("@type") == "CriticReview"]
    if len(reviews) != 1:
        fail(f"extruct found {len(reviews)} CriticReview(s) in {data['json-ld']}")
    critic = reviews[0]
    item = critic.get("itemReviewed") or {}
    problems = []
    if critic.get("url") != page_url: problems.append(f"url {critic.get('url')}")
    if (critic.get("author") or {}).get("@type") != "Organization": problems.append("author is not the publication")
    if item.get("@type") != "SoftwareApplication" or item.get("name") != "Published Tool": problems.append(f"itemReviewed {item}")
    if item.get("applicationCategory") != "Developer Tools": problems.append("no applicationCategory")
    offer = item.get("offers") or {}
    if offer.get("price") != "12" or offer.get("priceCurrency") != "USD": problems.append(f"offers {offer}")
    if "AggregateRating" in html: problems.append("an AggregateRating")
    og = {key: value for entry in data["opengraph"] for key, value in entry.items()}
    if og.get("og:title") != "Published Tool" or og.get("og:url") != page_url: problems.append(f"OpenGraph {og}")
    if problems:
        fail("structured data: " + "; ".join(problems))

    status, _, feed_text = request(url, "/feed.xml")
    feed = feedparser.parse(feed_text)
    if feed.bozo or not any(entry.get("link") == page_url for entry in feed.entries):
        fail(f"the feed (bozo {feed.bozo}: {feed.get('bozo_exception')}) has no entry for {page_url}")
    if not feed.feed.get("title") or not all(entry.get("published") and entry.get("title") for entry in feed.entries):
        fail("feed entries lack a title or a date")
    status, _, sitemap = request(url, "/sitemap.xml")
    locs = [node.text for node in ET.fromstring(sitemap).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    if page_url not in locs:
        fail(f"the sitemap does not list {page_url}: {locs}")

    site = pathlib.Path(tempfile.mkdtemp(prefix="panel-site-"))
    subprocess.run([args.panel, "publish", "--out", str(site), "--store", args.store, "--base-url", url], check=True)
    static = (site / "p" / slug / "index.html").read_text()
    # The served page has the reader's vote forms; the static one does not.
    served = html.replace('<script src="/votes.js" defer></script>\n', "")
    start = served.find('<section id="votes"')
    end = served.find("</section>\n", start)
    if start >= 0 and end > start:
        served = served[:start] + served[end + len("</section>\n"):]
    if static != served:
        fail("the static page differs from the served one")
    if feedparser.parse((site / "feed.xml").read_text()).bozo:
        fail("the static feed does not parse")
    print(f"publish check: {page_url} — CriticReview with an offer (extruct), OpenGraph, ETag/304, "
          f"feed ({len(feed.entries)} entries, feedparser), sitemap; the static export equals the served page")


if __name__ == "__main__":
    main()
