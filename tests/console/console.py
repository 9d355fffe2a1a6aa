#!/usr/bin/env python3
"""The console in a real browser (issue: the console): Debian's Chromium, driven by Selenium
through chromium-driver, against `vpcflow up --speed 600` on the built-in defaults (the default
scenario on builtin:three-tier, the log group /vpcflow/flow-logs and the Parquet bucket).

It signs in (a wrong secret is refused first), loads every page and checks what each shows
against what the API gives for the same range (boto3 against the same server):

* overview: the records-per-minute chart's ACCEPT and REJECT totals, the top-talkers and
  top-rejected tables, bytes by direction (their sum is every record's bytes), delivery health
  (DescribeFlowLogs' flow logs and statuses) and the month's cost (ingestion from the events'
  bytes);
* map: one drawn edge per edge of the map, and the bastion's ENI clicked (then reached by the
  keyboard) shows the ICMP asymmetry: a ping from 198.51.100.20 ACCEPTed in, its reply REJECTed;
* Logs Insights: a seed sample query run in the editor, its table equal to GetQueryResults' rows
  and its chart one point per bin; a malformed query's error at its position;
* SQL: the seeds' Athena table made and queried from the SQL tab;
* flow logs: an invalid aggregation interval refused at its field with AWS's message, then a
  flow log created through the form whose records then appear in its log group;
* alarms and findings: an alarm's graph holds GetMetricStatistics' values, its state is
  DescribeAlarms', and the findings `vpcflow findings` stored are listed with their evidence;
* diagnose: the policy's REJECT and the records' REPLY_REJECTED for that ping.

Every page is loaded at 1280x800 and 1920x1080, light and dark; the browser's console log must
hold no error. Screenshots of every page go to $CONSOLE_SCREENSHOTS (default
target/console-screenshots), the run's artifacts.

usage: console.py path/to/vpcflow
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# The API suite's harness: its checks (and their tally), ports, waits, clients and credentials.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "api"))
import e2e  # noqa: E402
from e2e import ACCOUNT, KEY, SECRET, VPC, check, client, free_port, wait_for  # noqa: E402

START = 1768485600  # 2026-01-15T14:00:00Z, the run's start
# The range the checks read: two simulated hours, delivered whole before they look.
RANGE = (START, START + 2 * 3600 - 1)
RANGE_QUERY = "start=2026-01-15T14:00:00Z&end=2026-01-15T15:59:59Z"
BASTION = "eni-0a0000000000000a3"
SHOTS = pathlib.Path(os.environ.get("CONSOLE_SCREENSHOTS", "target/console-screenshots"))


def insights(logs, groups, query, start, end):
    """Rows of an Insights query through the API, each a dict."""
    qid = logs.start_query(logGroupNames=groups, startTime=start, endTime=end,
                           queryString=query)["queryId"]
    while True:
        r = logs.get_query_results(queryId=qid)
        if r["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in r["results"]]
        time.sleep(0.05)


def browser(width, height):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=o, service=Service("/usr/bin/chromedriver"))
    d.set_page_load_timeout(60)
    return d


class Page:
    """The browser on the console of `url`, its console errors gathered per page."""

    def __init__(self, url, width=1280, height=800):
        self.url, self.d = url, browser(width, height)
        self.size = f"{width}x{height}"

    def errors(self):
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def open(self, path):
        self.errors()  # what came before is another page's
        self.d.get(self.url + path)

    def drawn(self, seconds=60):
        """Waits for the page's data to be drawn (the script marks the body)."""
        WebDriverWait(self.d, seconds).until(
            lambda d: d.execute_script("return document.body.dataset.drawn"))

    def el(self, css, seconds=60):
        return WebDriverWait(self.d, seconds).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css):
        """An element's text now ("" when absent): read in the page, so that an element the page
        has just redrawn is never stale."""
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)

    def table(self, css):
        """A table's rows: each a dict of column name to text."""
        t = self.el(css)
        heads = [th.text for th in t.find_elements(By.CSS_SELECTOR, "thead th")]
        return [dict(zip(heads, [td.text for td in tr.find_elements(By.TAG_NAME, "td")]))
                for tr in t.find_elements(By.CSS_SELECTOR, "tbody tr")]

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(SHOTS / f"{name}-{self.size}.png"))

    def sign_in(self, secret=SECRET):
        self.open("/ui/overview")
        self.el("#access-key").send_keys(KEY)
        self.el("#secret-key").send_keys(secret)
        self.el("#sign-in").click()


def num(text):
    return int(text.replace(",", "")) if text else 0


def sign_in(url):
    p = Page(url)
    p.sign_in("not-the-secret")
    msg = WebDriverWait(p.d, 30).until(lambda d: p.text("#login-error"))
    check("a wrong secret is refused at sign-in, with the reason",
          "/ui/login" in p.d.current_url and "do not match" in msg, msg)
    p.shot("login")
    p.d.delete_all_cookies()
    p.sign_in()
    WebDriverWait(p.d, 30).until(lambda d: d.current_url.endswith("/ui/overview"))
    check("the right secret signs in and opens the overview", True)
    p.errors()  # the refused sign-in's 401 was the test's own doing
    return p


def overview(p, url, logs):
    p.open(f"/ui/overview?{RANGE_QUERY}")
    p.drawn()
    chart = p.el("#chart-records")
    by_action = {r["action"]: int(r["n"]) for r in
                 insights(logs, ["/vpcflow/flow-logs"], "stats count(*) as n by action", *RANGE)}
    check("overview: the per-minute chart's ACCEPT and REJECT sum to the API's counts",
          int(chart.get_attribute("data-accept")) == by_action.get("ACCEPT")
          and int(chart.get_attribute("data-reject")) == by_action.get("REJECT"),
          f"{chart.get_attribute('data-accept')}/{chart.get_attribute('data-reject')} vs {by_action}")
    check("overview: the chart has one point per minute of the range",
          int(chart.get_attribute("data-points")) == 120, chart.get_attribute("data-points"))
    queries = session(url)["overviewQueries"]
    for table_id, qid, cols in [("#top-talkers", "topTalkers", ["srcAddr", "dstAddr", "bytes"]),
                                ("#rejected-ports", "rejectedPorts", ["dstPort", "rejects"]),
                                ("#rejected-sources", "rejectedSources", ["srcAddr", "rejects"])]:
        shown = [[r[c].replace(",", "") for c in cols] for r in p.table(table_id)]
        api = [[r.get(c, "") for c in cols] for r in
               insights(logs, ["/vpcflow/flow-logs"], queries[qid], *RANGE)]
        check(f"overview: {qid} is the API's answer for the range", api and same_top(shown, api),
              f"{shown} vs {api}")
    total = insights(logs, ["/vpcflow/flow-logs"],
                     "filter action in ['ACCEPT', 'REJECT'] | stats sum(bytes) as b", *RANGE)[0]["b"]
    directions = p.table("#direction-table")
    check("overview: bytes by direction add up to every record's bytes",
          sum(num(r["bytes"]) for r in directions) == int(float(total)), f"{directions} vs {total}")
    ids = {f["FlowLogId"]: f["DeliverLogsStatus"]
           for f in client(url, "ec2").describe_flow_logs()["FlowLogs"]}
    delivery = {r["flowLogId"]: r["deliverLogsStatus"] for r in p.table("#delivery-table")}
    check("overview: delivery health lists DescribeFlowLogs' flow logs and statuses",
          delivery == ids, f"{delivery} vs {ids}")
    chars = insights(logs, ["/vpcflow/flow-logs"],
                     "stats count(*) as n, sum(strlen(@message)) as c", *RANGE)[0]
    gb = (int(float(chars["c"])) + int(chars["n"])) * (30 * 86400 / 7200) / 2**30
    cost = p.table("#cost-table")
    ingestion = next(r for r in cost if r["item"].startswith("CloudWatch Logs ingestion"))
    check("overview: the month's ingestion is the range's event bytes scaled to 30 days",
          abs(float(ingestion["GB a month"]) - gb) < 0.001, f"{ingestion} vs {gb}")
    p.shot("overview")


def same_top(shown, api):
    """Two top-N answers agree: the same values in order, and the same rows above the last
    value (rows tied with it may be any of the tied ones, in any order)."""
    value = lambda rows: [int(r[-1]) for r in rows]
    above = lambda rows: sorted(r for r in rows if int(r[-1]) > value(rows)[-1])
    return value(shown) == value(api) and above(shown) == above(api)


def session(url):
    """The console's session view, for the test's own sign-in."""
    jar = urllib.request.HTTPCookieProcessor()
    opener = urllib.request.build_opener(jar)
    req = urllib.request.Request(url + "/ui/login", method="POST",
                                 data=json.dumps({"accessKeyId": KEY, "secretAccessKey": SECRET}).encode(),
                                 headers={"Content-Type": "application/json"})
    opener.open(req).read()
    with opener.open(url + "/ui/api/session") as r:
        return json.loads(r.read())


def network_map(p):
    p.open(f"/ui/map?{RANGE_QUERY}")
    p.drawn()
    svg = p.el("#map svg")
    drawn = len(p.d.find_elements(By.CSS_SELECTOR, "#map path.edge"))
    check("map: an edge is drawn for each edge of the map, both verdicts present",
          drawn == int(svg.get_attribute("data-edges")) and drawn > 5
          and p.d.find_elements(By.CSS_SELECTOR, "path.edge.REJECT")
          and p.d.find_elements(By.CSS_SELECTOR, "path.edge.ACCEPT"), f"{drawn}")
    p.el(f'[data-eni="{BASTION}"]').click()
    ping = p.el('#verdicts [data-source="198.51.100.20"][data-protocol="1"]')
    check("map: the bastion's ENI shows the ping's reply REJECTed (the ICMP asymmetry)",
          ping.get_attribute("data-verdict") == "REPLY_REJECTED"
          and "network ACL" in ping.text, ping.text[:300])
    check("map: the bastion's panel lists its records",
          BASTION in p.el("#records").text)
    p.shot("map")
    # The same by keyboard: focus the node and press Enter.
    p.open(f"/ui/map?{RANGE_QUERY}")
    p.drawn()
    node = p.el(f'[data-eni="{BASTION}"]')
    p.d.execute_script("arguments[0].focus()", node)
    node.send_keys(Keys.ENTER)
    check("map: an ENI opens from the keyboard",
          p.el('#verdicts [data-verdict="REPLY_REJECTED"]') is not None)
    edge = p.el('path.edge[data-to="internet"][data-action="REJECT"]')
    p.d.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", edge)
    check("map: an edge shows its records", "REJECT" in p.el("#records").text)


def insights_page(p, logs):
    p.open(f"/ui/insights?{RANGE_QUERY}")
    p.el("#log-groups option")
    p.el('[data-sample="Rejected traffic by hour"]').click()
    query = p.el("#editor").get_attribute("value")
    p.el("#run").click()
    p.el("#result-table")
    WebDriverWait(p.d, 30).until(lambda d: d.execute_script(
        "return document.getElementById('query-stats').dataset.matched"))
    shown = [[r["hour"], r["rejects"]] for r in p.table("#result-table")]
    api = [[r["hour"], r["rejects"]] for r in insights(logs, ["/vpcflow/flow-logs"], query, *RANGE)]
    check("insights: a seed query run in the editor shows the API's rows", shown == api and len(api) == 2,
          f"{shown} vs {api}")
    chart = p.el("#query-chart")
    check("insights: its stats … by bin() draws a chart, one point per bin",
          chart.is_displayed() and int(chart.get_attribute("data-points")) == len(api))
    check("insights: the statistics line says records matched and scanned",
          "records matched" in p.el("#query-stats").text)
    p.shot("insights")
    editor = p.el("#editor")
    editor.clear()
    editor.send_keys("filter action = | stats count(*)")
    p.el("#run").click()
    err = p.el("#query-error")
    WebDriverWait(p.d, 30).until(lambda d: err.is_displayed())
    check("insights: a malformed query's error is shown, with the cursor at its position",
          "MalformedQueryException" in err.text and err.get_attribute("data-position") is not None,
          err.text)
    p.errors()  # the refused StartQuery's 400 was the test's own doing
    p.open("/ui/insights?tab=sql")
    ddl = p.el('[data-sample="Create the Parquet table (Hive partitions)"]')
    editor = p.el("#editor")
    script = []
    for name in ["Create the Parquet table (Hive partitions)", "Load its partitions", "Top destinations of HTTPS packets"]:
        p.el(f'[data-sample="{name}"]').click()
        script.append(editor.get_attribute("value"))
    p.d.execute_script("arguments[0].value = arguments[1]", editor, ";\n".join(script))
    p.el("#run").click()
    rows = p.table("#result-table")
    check("sql: the seeds' Athena table is made and queried from the SQL tab",
          ddl is not None and rows and set(rows[0]) == {"packetcount", "dstaddr"}, f"{rows[:2]}")
    p.shot("sql")


def flow_logs_page(p, logs):
    p.open("/ui/flow-logs")
    p.el("#flow-logs")
    fill = {"f-ResourceId": VPC, "f-LogGroupName": "/console/made",
            "f-DeliverLogsPermissionArn": f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
            "f-MaxAggregationInterval": "30"}
    for k, v in fill.items():
        p.el(f"#{k}").clear()
        p.el(f"#{k}").send_keys(v)
    p.el("#create").click()
    err = WebDriverWait(p.d, 30).until(
        lambda d: p.text("#err-MaxAggregationInterval"))
    check("flow logs: an invalid aggregation interval is refused at its field in AWS's words",
          "Invalid Flow Log Max Aggregation Interval" in err
          and p.el("#f-MaxAggregationInterval").get_attribute("aria-invalid") == "true", err)
    p.shot("flow-logs-error")
    p.errors()  # the refused CreateFlowLogs' 400 was the test's own doing
    p.el("#f-MaxAggregationInterval").clear()
    p.el("#f-MaxAggregationInterval").send_keys("60")
    p.el("#create").click()
    done = WebDriverWait(p.d, 30).until(lambda d: p.text("#form-done"))
    made = done.split()[-1].rstrip(".")
    WebDriverWait(p.d, 30).until(lambda d: made in p.text("#flow-logs"))
    check("flow logs: the form creates a flow log that DescribeFlowLogs lists", made.startswith("fl-"), done)
    listed = {r["id"] for r in p.table("#flow-logs")}
    api = {f["FlowLogId"] for f in client(p.url, "ec2").describe_flow_logs()["FlowLogs"]}
    check("flow logs: the list is DescribeFlowLogs'", listed == api and made in api, f"{listed} vs {api}")

    def events():
        try:
            return logs.filter_log_events(logGroupName="/console/made", limit=5)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
    got = wait_for("the form's flow log's records", events, 120)
    check("flow logs: its records appear in its log group", any(" eni-" in e["message"] for e in got))
    p.shot("flow-logs")
    p.el(f'[data-delete="{made}"]').click()
    WebDriverWait(p.d, 30).until(lambda d: made not in p.text("#flow-logs"))
    api = {f["FlowLogId"] for f in client(p.url, "ec2").describe_flow_logs()["FlowLogs"]}
    check("flow logs: its Delete button deletes it (DescribeFlowLogs lists it no more)", made not in api)


def alarm_on_rejects(url):
    """Early in the traffic: a metric filter counting REJECT records, and an alarm on it."""
    logs = client(url, "logs")
    wait_for("the flow logs' log group", lambda: logs.describe_log_groups(
        logGroupNamePrefix="/vpcflow/flow-logs")["logGroups"], 60)
    logs.put_metric_filter(
        logGroupName="/vpcflow/flow-logs", filterName="rejects", filterPattern="REJECT",
        metricTransformations=[{"metricName": "Rejects", "metricNamespace": "Console/Test",
                                "metricValue": "1"}])
    client(url, "cloudwatch").put_metric_alarm(
        AlarmName="rejects-high", Namespace="Console/Test", MetricName="Rejects", Statistic="Sum",
        Period=300, EvaluationPeriods=1, Threshold=150.0, ComparisonOperator="GreaterThanThreshold")


def alarms_page(p, url, binary, data):
    cw = client(url, "cloudwatch")
    before = cw.describe_alarms(AlarmNames=["rejects-high"])["MetricAlarms"][0]["StateValue"]
    subprocess.run([binary, "findings", "--data", str(data)], check=True, capture_output=True, timeout=300)
    p.open(f"/ui/alarms?{RANGE_QUERY}")
    p.drawn()
    graph = p.el('[data-alarm="rejects-high"]')
    stats = cw.get_metric_statistics(Namespace="Console/Test", MetricName="Rejects", StartTime=RANGE[0],
                                     EndTime=RANGE[1] + 1, Period=300, Statistics=["Sum"])["Datapoints"]
    api = [p_["Sum"] for p_ in sorted(stats, key=lambda x: x["Timestamp"])]
    check("alarms: the graph holds GetMetricStatistics' values",
          json.loads(graph.get_attribute("data-values") or "[]") == api and api,
          f"{graph.get_attribute('data-values')} vs {api}")
    after = cw.describe_alarms(AlarmNames=["rejects-high"])["MetricAlarms"][0]["StateValue"]
    shown = p.el('[data-alarm-card="rejects-high"] [data-state]').get_attribute("data-state")
    check("alarms: the state shown is DescribeAlarms'", shown in (before, after), f"{shown} vs {before}/{after}")
    rows = p.table("#findings-table")
    check("findings: the stored findings are listed, with their evidence",
          rows and any(r["type"] == "Recon:EC2/Portscan" for r in rows)
          and all("records" in r["evidence"] for r in rows), f"{rows[:2]}")
    p.shot("alarms")


def diagnose_page(p):
    p.open(f"/ui/diagnose?{RANGE_QUERY}")
    for k, v in {"source": "198.51.100.20", "destination": "54.210.0.30", "protocol": "icmp"}.items():
        p.el(f"#{k}").clear()
        p.el(f"#{k}").send_keys(v)
    p.el("#diagnose").click()
    verdict = p.el("#policy-verdict")
    records = p.el('#diagnosis [data-verdict="REPLY_REJECTED"]')
    check("diagnose: the policy's flowchart says REJECT at the deciding rule",
          verdict.get_attribute("data-verdict") == "REJECT" and "egress" in p.el("#steps").text)
    check("diagnose: the records in the range show the reply REJECTed, with evidence",
          "198.51.100.20" in records.text)
    p.shot("diagnose")


PAGES = ["overview", "map", "flow-logs", "insights", "alarms", "diagnose"]


def every_page_every_size(url):
    """Each page at both widths, light and dark: drawn, without console errors."""
    for width, height in [(1280, 800), (1920, 1080)]:
        p = Page(url, width, height)
        p.sign_in()
        WebDriverWait(p.d, 30).until(lambda d: d.current_url.endswith("/ui/overview"))
        for dark in [False, True]:
            for page in PAGES:
                p.open(f"/ui/{page}?{RANGE_QUERY}")
                p.el("#main h1")
                if page in ("overview", "map", "alarms"):
                    p.drawn()
                if dark:
                    p.d.execute_script("localStorage.setItem('vpcflow-theme', 'dark')")
                    p.d.refresh()
                    p.el("#main h1")
                    if page in ("overview", "map", "alarms"):
                        p.drawn()
                theme = p.d.execute_script("return document.documentElement.dataset.theme")
                wide = p.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
                errors = p.errors()
                check(f"{page} at {p.size} {theme}: drawn, no horizontal scroll, no console errors",
                      not errors and wide and theme == ("dark" if dark else "light"), f"{errors} wide={wide}")
                if dark or width == 1920:
                    p.shot(f"{page}-{theme}")
            p.d.execute_script("localStorage.removeItem('vpcflow-theme')")
        p.d.quit()


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        data = pathlib.Path(tmp) / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(pathlib.Path(tmp) / "up.log", "wb")
        up = subprocess.Popen([binary, "up", "--data", str(data), "--listen", f"127.0.0.1:{port}",
                               "--speed", "600", "--start", "2026-01-15T14:00:00Z", "--seed", "7"],
                              stdout=log, stderr=log)
        p = None
        try:
            wait_for("/healthz", lambda: healthy(url), 60)
            alarm_on_rejects(url)
            # The role the flow log the form makes delivers with (IAM, as in AWS).
            e2e.delivery_role(url, f"arn:aws:iam::{ACCOUNT}:role/flow-logs")
            logs = client(url, "logs")
            # Two simulated hours delivered whole: well past them, and their count settled.
            wait_for("two simulated hours delivered",
                     lambda: (session(url).get("newestRecordMs") or 0) >= (RANGE[1] + 3 * 3600) * 1000, 120)
            count = lambda: insights(logs, ["/vpcflow/flow-logs"], "stats count(*) as n", *RANGE)
            wait_for("the range's records settled", lambda: count() == (time.sleep(1) or count()), 60)
            p = sign_in(url)
            overview(p, url, logs)
            check("overview: no console errors", not p.errors())
            network_map(p)
            check("map: no console errors", not p.errors())
            insights_page(p, logs)
            check("insights and sql: no console errors", not p.errors())
            flow_logs_page(p, logs)
            check("flow logs: no console errors", not p.errors())
            alarms_page(p, url, binary, data)
            check("alarms and findings: no console errors", not p.errors())
            diagnose_page(p)
            check("diagnose: no console errors", not p.errors())
            every_page_every_size(url)
        finally:
            if p:
                p.d.quit()
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=60)
            finally:
                if up.poll() is None:
                    up.kill()
            log.close()
    print(f"\n{e2e.passed} passed, {len(e2e.failures)} failed; screenshots in {SHOTS}")
    if e2e.failures:
        print("failed:\n  " + "\n  ".join(e2e.failures))
        sys.exit(1)


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
