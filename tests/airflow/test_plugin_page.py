"""The operators' page in Airflow's UI, in a real browser (headless Chromium from Debian's packages,
installed by scripts/ensure-chromium.sh) against a real local Airflow started by
newsflow.dev.local_airflow: log in, open Browse → "Newsflow feeds & alerts", read the page in its frame.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.es, pytest.mark.airflow]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT = Path(tempfile.gettempdir()) / "newsflow-plugin-page.png"


@pytest.fixture(scope="module")
def ui_data(es_url: str, _es_cleanup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Settings of their own, with feeds polled (one healthy, one failing) and one rule that alerted."""
    from newsflow.alerts.rules import RuleStore
    from newsflow.app import tasks
    from newsflow.core.es import make_client
    from newsflow.core.settings import load_settings
    from tests.conftest import _SESSION_PREFIX, OPT_IN_FETCH, SAMPLES
    from tests.support.feedserver import FeedServer, Response

    home = tmp_path_factory.mktemp("airflow-ui")
    settings = load_settings(es_url=es_url, index_prefix=f"{_SESSION_PREFIX}-ui", home=home,
                             fetch=OPT_IN_FETCH)  # the feed server listens on 127.0.0.1
    client = make_client(settings)
    RuleStore(client, settings).add("cholera", "title:cholera", [f"log:{home / 'alerts.jsonl'}"])
    client.close()
    with FeedServer(root=SAMPLES / "feeds") as server:  # the shard matches and delivers its alerts
        broken = server.route("/broken.xml", Response(status=503, body=b"maintenance"))
        feeds = home / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {server.url('/world.xml')}\n  - url: {broken}\n")
        tasks.ingest_shard(str(feeds), [server.url("/world.xml"), broken], settings=settings)
    tasks.process_alerts(settings=settings)
    yield settings, str(feeds), broken


@pytest.fixture(scope="module")
def airflow(ui_data: Any, metadata_database: Any) -> Iterator[Any]:
    """A local Airflow (all four components) for this module, stopped by PID afterwards; its
    metadata database is one of its own in the session's PostgreSQL cluster."""
    # The prefix and feeds file reach the components through NEWSFLOW_* variables (see
    # LocalAirflow.environment); the plugin and the tasks read them there.
    from newsflow.dev.local_airflow import LocalAirflow, free_port

    settings, feeds, _ = ui_data
    local = LocalAirflow(settings.model_copy(update={"feeds_file": Path(feeds)}), port=free_port(18080),
                         postgres=metadata_database, database="airflow_ui")
    try:
        local.up()
        yield local
    finally:
        local.down()
        assert not any(local.pid(name) for name in ("api-server", "scheduler", "dag-processor", "triggerer"))


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="newsflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(driver: Any, airflow: Any) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def login_form(d: Any) -> Any:
        try:
            return d.find_element(By.NAME, "username")
        except WebDriverException as exc:
            # Airflow's front page sends the browser on to the login page by script; a lookup that
            # lands mid-navigation is aborted by Chrome (seen in CI): look again once it has arrived.
            if "aborted by navigation" in (exc.msg or ""):
                return False
            raise

    driver.get(airflow.url + "/")
    WebDriverWait(driver, 60).until(login_form)
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(airflow.admin_password())
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 60).until(lambda d: "/auth/login" not in d.current_url)


def test_the_page_is_in_the_browse_menu_and_shows_feed_health_and_alerts(
    airflow: Any, browser: Any, ui_data: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _, _, broken = ui_data
    wait = WebDriverWait(browser, 60)
    log_in(browser, airflow)

    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Browse']"))).click()
    wait.until(ec.element_to_be_clickable(
        (By.XPATH, "//*[normalize-space(text())='Newsflow feeds & alerts']"))).click()
    wait.until(lambda d: d.current_url.endswith("/plugin/newsflow"))
    frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
    browser.switch_to.frame(frame)
    wait.until(ec.presence_of_element_located((By.ID, "rules")))

    rows = browser.find_elements(By.CSS_SELECTOR, "tr.feed")
    feeds = {row.get_attribute("data-health"): row.find_elements(By.TAG_NAME, "td") for row in rows}
    assert set(feeds) == {"ok", "failing"}
    healthy, failing = feeds["ok"], feeds["failing"]
    # Feed, Health, Last fetch, Status, Error reason, Articles, Next due
    assert healthy[0].text.startswith("Example World News")
    assert healthy[3].text == "fetched" and int(healthy[5].text) > 0 and "UTC" in healthy[6].text
    assert broken in failing[0].text and failing[3].text.startswith("failed")
    assert "503" in failing[4].text and failing[5].text == "0" and "UTC" in failing[2].text

    rule = browser.find_element(By.CSS_SELECTOR, "div.rule[data-rule='cholera']")
    assert "title:cholera" in rule.text
    alerts = rule.find_elements(By.CSS_SELECTOR, "tr.alert")
    assert len(alerts) == 1
    assert "cholera" in alerts[0].text.lower() and "sent" in alerts[0].text
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOT))


def test_the_page_needs_an_airflow_login(airflow: Any) -> None:
    assert httpx.get(f"{airflow.url}/newsflow/").status_code == 401
    token = airflow.token()
    page = httpx.get(f"{airflow.url}/newsflow/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "cholera" in page.text


def test_a_run_triggered_through_the_rest_api_succeeds(airflow: Any, ui_data: Any) -> None:
    _, feeds, _ = ui_data
    run = airflow.trigger("news_ingest", {"feeds_file": feeds}, wait=True, timeout=300)
    assert run.state == "success", run
    token = airflow.token()
    tasks = httpx.get(f"{airflow.url}/api/v2/dags/news_ingest/dagRuns/{run.run_id}/taskInstances",
                      headers={"Authorization": f"Bearer {token}"}).json()["task_instances"]
    assert {t["task_id"]: t["state"] for t in tasks if t["task_id"] != "ingest_shard"} == {
        "plan": "success", "alerts": "success"}


def test_the_page_uses_the_newsflow_elasticsearch_connection_when_defined(airflow: Any, ui_data: Any) -> None:
    from urllib.parse import urlsplit

    settings, _, _ = ui_data
    other_prefix = f"{settings.index_prefix}-viaconn"
    es = urlsplit(settings.es_url)
    api = httpx.Client(base_url=airflow.url, headers={"Authorization": f"Bearer {airflow.token()}"})
    created = api.post("/api/v2/connections", json={
        "connection_id": "newsflow_elasticsearch", "conn_type": "http", "host": es.hostname, "port": es.port,
        "schema": es.scheme, "extra": json.dumps({"index_prefix": other_prefix})})
    assert created.status_code == 201, created.text
    try:
        page = api.get("/newsflow/")
        assert page.status_code == 200
        assert f"index prefix {other_prefix}" in page.text
        # Nothing was polled under the other prefix: the configured feeds are listed as not polled.
        assert "Feeds (2: 2 not polled)" in page.text and "Alert rules (0)" in page.text
    finally:
        api.delete("/api/v2/connections/newsflow_elasticsearch")
        api.close()
