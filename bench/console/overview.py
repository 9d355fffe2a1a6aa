#!/usr/bin/env python3
"""bench/console.sh's browser side.

  overview.py URL wait-day        waits until the service has delivered 2026-01-15 whole
  overview.py URL measure RUNS    loads the overview of that day RUNS times in Chromium and
                                  prints each time to its charts drawn, and the median
"""
import json
import statistics
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DAY_END = 1768521600  # 2026-01-16T00:00:00Z


def now_ms(url):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    body = json.dumps({"accessKeyId": KEY, "secretAccessKey": SECRET}).encode()
    opener.open(urllib.request.Request(url + "/ui/login", data=body, method="POST",
                                       headers={"Content-Type": "application/json"})).read()
    with opener.open(url + "/ui/api/session") as r:
        return json.loads(r.read()).get("newestRecordMs") or 0


def wait_day(url):
    deadline = time.time() + 1800
    while time.time() < deadline:
        try:
            if now_ms(url) >= (DAY_END + 1800) * 1000:
                return
        except OSError:
            pass
        time.sleep(1)
    sys.exit("the day was not delivered in 30 minutes")


def measure(url, runs):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1920,1080"]:
        o.add_argument(a)
    d = webdriver.Chrome(options=o, service=Service("/usr/bin/chromedriver"))
    d.get(url + "/ui/login")
    d.execute_script(
        "return fetch('/ui/login', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({accessKeyId: arguments[0], secretAccessKey: arguments[1]})})"
        ".then(r => r.status)", KEY, SECRET)
    page = "/ui/overview?start=2026-01-15T00:00:00Z&end=2026-01-15T23:59:59Z"
    times, whole = [], []
    for i in range(runs + 1):
        d.get(url + page)
        drawn = WebDriverWait(d, 120).until(
            lambda d: d.execute_script("return document.body.dataset.drawn"))
        complete = WebDriverWait(d, 120).until(
            lambda d: d.execute_script("return document.body.dataset.complete"))
        points = d.execute_script("return document.getElementById('chart-records').dataset.points")
        if i == 0:
            print(f"warm-up: {float(drawn):.0f} ms ({points} minutes charted)")
            continue
        times.append(float(drawn))
        whole.append(float(complete))
        print(f"run {i}: {float(drawn):.0f} ms to the charts drawn, {float(complete):.0f} ms to every panel")
    d.quit()
    print(f"overview of a simulated day: median {statistics.median(times):.0f} ms to the charts drawn "
          f"(min {min(times):.0f}, max {max(times):.0f}) over {runs} loads; target < 1000 ms; "
          f"every panel (tables, delivery, cost) median {statistics.median(whole):.0f} ms")


if __name__ == "__main__":
    if sys.argv[2] == "wait-day":
        wait_day(sys.argv[1])
    else:
        measure(sys.argv[1], int(sys.argv[3]))
