"""Shared by the browser tests (serve-browser-test.py, a11y-test.py): headless Chromium through
Debian's chromium-driver, a deadline-bounded wait, and one way to fail."""
import sys, time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Which script failed, for its messages.
NAME = "browser test"


def fail(message):
    print(f"{NAME}: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # the page may be reloading
            pass
        time.sleep(0.05)
    fail(f"timed out after {seconds} s waiting for {what}")


def browser(downloads, width=1280, height=900, extra=()):
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}", *extra]:
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
