"""The dashboard page (api/dashboard/) in headless Chromium against the real broker,
processor, sinks and API (chdb, the cheapest stack: processor + serve).

Six users send a week's workouts through ingest; a garbage record and a hand-made dead
letter with a hostile reason go to the log. The workouts are in the previous ISO week
(its last hours), which is whole in the past whenever the test runs, and the page is
opened on that week (``/?week=``): no wall-clock time can leave them no room or move
the page to another week meanwhile. Then Debian's chromium, driven by its
chromedriver through selenium, loads the page and the test waits on the DOM (never a
fixed sleep) for: the week's leaderboard showing exactly the users, in order, of the
API's leaderboard answer; the route of the signed-in user's workout drawn as a
polyline with as many points as the GeoJSON's coordinates; the pipeline health with
the dead letters counted by reason and the hostile reason shown as text; and no
SEVERE entry in the browser's console log.

``FITSTREAM_DASHBOARD_SCREENSHOT=docs/dashboard.png`` also writes the screenshot the
README shows (1280x900), from the same page.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.kafka.clients import producer_config
from fitstream.tokens import issue_analyst_token, issue_device_token, issue_user_token
from tests.conftest import isolated
from tests.harness import wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = os.environ.get("FITSTREAM_DASHBOARD_SCREENSHOT")
HOSTILE_REASON = '<img src=x onerror="document.title=\'pwned\'">'
GARBAGE = b"\x00\x00\x00\x00\x01not avro at all"

# (user, sport, km, minutes, centre lat, centre lon): a realistic week in Berlin.
WORKOUTS = [
    ("ana.k", "running", 10.4, 52, 52.5145, 13.3501),
    ("ana.k", "running", 6.2, 31, 52.4870, 13.4260),
    ("ben-m", "cycling", 24.8, 58, 52.5200, 13.4050),
    ("chloe_r", "running", 8.1, 44, 52.4750, 13.4030),
    ("dev-s", "walking", 4.3, 50, 52.5300, 13.3800),
    ("emil.w", "cycling", 17.5, 41, 52.5450, 13.3600),
    ("fatima.o", "running", 12.9, 63, 52.5090, 13.3760),
    ("fatima.o", "hiking", 9.0, 55, 52.4400, 13.2300),
]
SIGNED_IN = "ana.k"


def chromium_or_fail() -> None:
    """The test must not skip silently in ``make test``: name the target that fixes it."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if shutil.which(p) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make chromium` (Debian's chromium "
                    "and chromium-driver) for the dashboard's browser test")


def route_points(index: int, km: float, lat: float, lon: float, n: int = 60) -> list[dict]:
    """A closed, wobbly loop of about ``km`` around (lat, lon), ``n`` points."""
    radius_m = km * 1000 / (2 * math.pi)
    points = []
    for i in range(n):
        angle = 2 * math.pi * i / (n - 1)
        wobble = 1 + 0.18 * math.sin(3 * angle + index) + 0.07 * math.cos(7 * angle)
        north = radius_m * wobble * math.sin(angle) * (0.7 + 0.1 * (index % 3))
        east = radius_m * wobble * math.cos(angle)
        points.append({"lat": round(lat + north / 111_195, 6),
                       "lon": round(lon + east / (111_195 * math.cos(math.radians(lat))), 6)})
    return points


def workout_events(index: int, start_ms: int, span_ms: int) -> tuple[str, list[dict]]:
    user, sport, km, minutes, lat, lon = WORKOUTS[index]
    workout = f"wk-{user}-{index}"
    duration_ms = min(minutes * 60_000, span_ms)
    route = route_points(index, km, lat, lon)
    device = f"watch-{user}"

    def event(kind: str, seq: int, at: int, **payload: Any) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": at,
                "user_id": user, "workout_id": workout, "device_id": device, "seq": seq,
                **payload}

    samples = [{"offset_ms": duration_ms * (i + 1) // 12,
                "distance_meters": km * 1000 * (i + 1) / 12, "heart_rate": 128 + 3 * i,
                "speed": km * 1000 / (duration_ms / 1000), **route[i * 5 % len(route)],
                "elevation_meters": 34.0 + i} for i in range(12)]
    end = start_ms + duration_ms
    return device, [
        event("WorkoutStarted", 0, start_ms, sport_type=sport, start_time=start_ms,
              location={"latitude": route[0]["lat"], "longitude": route[0]["lon"]},
              device_model="RunWatch Pro"),
        event("WorkoutUpdated", 1, start_ms + duration_ms // 2,
              current_distance_meters=samples[5]["distance_meters"], heart_rate=140,
              current_speed=samples[5]["speed"], samples=samples[:6]),
        event("WorkoutUpdated", 2, end - 1000,
              current_distance_meters=samples[-1]["distance_meters"], heart_rate=150,
              current_speed=samples[-1]["speed"], samples=samples[6:]),
        event("WorkoutCompleted", 3, end, end_time=end, duration_sec=duration_ms // 1000,
              distance_meters=km * 1000, calories_burned=round(km * 62.0, 1),
              route_coordinates=route),
    ]


def previous_week(now: datetime) -> tuple[str, int]:
    """The ISO week before ``now``'s ("2026-W48") and its end (the next Monday, UTC, ms)."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    year, week, _ = (monday - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}", int(monday.timestamp() * 1000)


@pytest.fixture(scope="module")
def dashboard(broker, tmp_path_factory):
    chromium_or_fail()  # before the stack starts: a failure here leaves nothing running
    settings = isolated(broker, tmp_path_factory.mktemp("dashboard"), "dashboard")
    settings = settings.model_copy(update={"api": settings.api.model_copy(
        update={"pipeline_health_ttl_s": 1.0})})
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api-chdb", "serve")
    try:
        wait_for_api(settings, stack)
        url = api_url(settings)
        secret = settings.api.token_secret.get_secret_value()
        # The previous ISO week's last three hours, one slot each: before now (ingest
        # refuses the future) and in a week that cannot change while the test runs.
        week, week_end_ms = previous_week(datetime.now(UTC))
        first = week_end_ms - 3 * 3_600_000
        slot = (3 * 3_600_000 - 60_000) // len(WORKOUTS)
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(len(WORKOUTS)):
                device, events = workout_events(i, first + i * slot, slot - 1000)
                token = issue_device_token(secret, WORKOUTS[i][0], device, 600)
                sent = client.post("/api/v1/ingest/events", json={"events": events},
                                   headers={"Authorization": f"Bearer {token}"})
                assert sent.status_code == 202, sent.text
        producer = Producer(producer_config(settings.kafka))
        producer.produce(settings.kafka.events_topic, key=b"ana.k", value=GARBAGE)
        # A dead letter written by a hostile producer: the page must show its reason as
        # text, never as markup.
        producer.produce(settings.kafka.dlq_topic, key=b"x", value=b"{}", headers=[
            ("dlq.reason", HOSTILE_REASON.encode()), ("dlq.source.topic", b"elsewhere"),
            ("dlq.source.partition", b"0"), ("dlq.source.offset", b"7")])
        assert producer.flush(30) == 0
        expected = {}
        for user, *_ in WORKOUTS:
            expected[user] = expected.get(user, 0) + 1

        def counted() -> dict[str, int]:
            board = httpx.get(f"{url}/api/v1/leaderboards/workouts", params={
                "window": "week", "period": week, "limit": 100}, timeout=10).json()
            return {e["user_id"]: e["workouts"] for e in board.get("entries", [])}

        wait_until(lambda: counted() == expected, "every workout on the weekly board",
                   progress=counted, alive=stack.check, stall_s=60, overall_s=180)
        yield {"url": url, "settings": settings, "secret": secret, "week": week}
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium_or_fail()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # The viewport itself 1280x900 (the window size includes what headless keeps of
    # the browser's frame), as the README's screenshot shows it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, what: str, timeout_s: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(
        condition, message=f"the page never showed {what}")


def texts(driver, selector: str) -> list[str]:
    """The text of every match, read in one script: the page replaces its rows on each
    refresh, so element handles kept across calls go stale."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)",
        selector)


def rows(driver, selector: str) -> list[list[str]]:
    """Each row's cell texts, in one script (see :func:`texts`)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]),"
        " r => Array.from(r.cells, c => c.textContent))", selector)


def test_the_dashboard_shows_the_api_board_route_and_pipeline_health(dashboard, browser):
    from selenium.webdriver.common.by import By

    url, secret = dashboard["url"], dashboard["secret"]
    page = httpx.get(f"{url}/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy

    week = dashboard["week"]
    browser.get(f"{url}/?week={week}")
    board = httpx.get(f"{url}/api/v1/leaderboards/distance", params={
        "window": "week", "period": week, "sport": "all", "limit": 10}).json()
    users = [e["user_id"] for e in board["entries"]]
    assert len(users) == 6
    wait_for(browser, lambda d: texts(d, "#leaderboard tbody td.user") == users,
             f"the API's board of {week} {users}")
    assert texts(browser, "#leaderboard tbody td.rank") == [
        str(e["rank"]) for e in board["entries"]]
    assert texts(browser, "#leaderboard-period") == [f"week {week} · all"]

    # Sign in as a user: the token goes into the field, the route of their newest
    # workout is drawn from the GeoJSON endpoint.
    browser.find_element(By.ID, "user-token").send_keys(
        issue_user_token(secret, SIGNED_IN, 600))
    browser.find_element(By.CSS_SELECTOR, "#user-signin button[type=submit]").click()
    route = browser.find_element(By.ID, "route")
    wait_for(browser, lambda d: route.get_attribute("data-state") == "drawn", "a route")
    workout = route.get_attribute("data-workout")
    geojson = httpx.get(f"{url}/api/v1/workouts/{workout}/route", headers={
        "Authorization": f"Bearer {issue_user_token(secret, SIGNED_IN, 60)}"}).json()
    coordinates = geojson["geometry"]["coordinates"]
    assert len(coordinates) > 10
    drawn = browser.find_element(By.CSS_SELECTOR, "#route polyline.track")
    assert len(drawn.get_attribute("points").split()) == len(coordinates)
    assert texts(browser, "#user-who") == [f"signed in as {SIGNED_IN}"]
    achievements = httpx.get(f"{url}/api/v1/users/{SIGNED_IN}/achievements").json()
    assert len(texts(browser, "#achievements li")) == len(achievements["achievements"])
    assert "token" not in browser.current_url

    # Sign in as an analyst: pipeline health, with both dead letters counted by reason.
    browser.find_element(By.ID, "analyst-token").send_keys(
        issue_analyst_token(secret, "ops-1", 600))
    browser.find_element(By.CSS_SELECTOR, "#analyst-signin button[type=submit]").click()
    dlq = dashboard["settings"].kafka.dlq_topic

    def counts(d) -> set[tuple[str, ...]]:
        return {tuple(r) for r in rows(d, "#dlq-counts tbody tr")}

    def lags(d) -> dict[str, str]:
        return {r[0]: r[-1] for r in rows(d, "#lag tbody tr")}

    wait_for(browser, lambda d: counts(d) == {(dlq, "malformed", "1"),
                                              (dlq, HOSTILE_REASON, "1")},
             "the dead letters counted by reason")
    # The processor commits every few seconds: wait for the commit past the garbage.
    wait_for(browser, lambda d: lags(d).get("processor") == "0", "the processor caught up")
    assert lags(browser)["delivery"] == "not running"
    assert HOSTILE_REASON in texts(browser, "#dlq-recent tbody td")
    assert not browser.find_elements(By.CSS_SELECTOR, "#health-panel img")
    assert browser.title == "FitStream dashboard"
    assert "not avro" not in browser.find_element(By.TAG_NAME, "body").text

    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        browser.execute_script("window.scrollTo(0, 0)")
        assert browser.save_screenshot(SCREENSHOT)

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_pipeline_health_is_for_analysts_only(dashboard):
    url, secret = dashboard["url"], dashboard["secret"]
    anonymous = httpx.get(f"{url}/api/v1/pipeline/health")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    as_user = httpx.get(f"{url}/api/v1/pipeline/health", headers={
        "Authorization": f"Bearer {issue_user_token(secret, SIGNED_IN, 60)}"})
    assert as_user.status_code == 401
    health = httpx.get(f"{url}/api/v1/pipeline/health", headers={
        "Authorization": f"Bearer {issue_analyst_token(secret, 'ops-1', 60)}"}).json()
    assert health["events_total"] == 8 * 4 + 1
    # Counted once each although the page and this test read many times since: each
    # read counts only what was appended after the last.
    dlq = dashboard["settings"].kafka.dlq_topic
    assert health["dead_letters"] == [
        {"topic": dlq, "reason": HOSTILE_REASON, "count": 1},
        {"topic": dlq, "reason": "malformed", "count": 1}]
    assert health["dead_letters_complete"] is True
    # Positions and reasons only: no payload, no detail text.
    assert {tuple(sorted(d)) for d in health["recent_dead_letters"]} == {(
        "at", "offset", "partition", "reason", "source_offset", "source_partition",
        "source_topic", "topic")}
