"""The console in a real browser: Debian's Chromium, driven by Selenium through Debian's chromedriver.

A new user signs in with an access token, finds a pack, reads its policies, applies it to a group with a config
that fails validation and then with one that passes, sees the stack's required packs change and what the pack
found on the stack, and signs out; with the keyboard alone where a keyboard user would. Every page must load
without a console error or a Content-Security-Policy violation. Screenshots of every page at desktop and phone
widths go to SCREENSHOTS (one PNG per page and width, listed in index.txt).

    python browser_test.py BASE_URL ADMIN_TOKEN SCREENSHOTS
"""

import io
import json
import os
import sys
import tarfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, TOKEN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
SCHEMA = {"type": "object", "properties": {"maxAge": {"type": "integer", "minimum": 1, "description": "Days"}},
          "required": ["maxAge"]}
shots: list[tuple[str, str]] = []


def api(method: str, path: str, body=None, raw: bytes | None = None, url: str | None = None) -> tuple[int, bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url or BASE + path, data=data, method=method)
    if url is None:
        request.add_header("Authorization", f"token {TOKEN}")
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/vnd.pulumi+9")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in {"package/PulumiPolicy.yaml": "runtime: nodejs\n", "package/index.js": "// rules\n"}.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime = len(text), int(time.time())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def publish() -> None:
    policy = {"name": "bucket-retention", "displayName": "Buckets keep logs for a while",
              "description": "Every bucket has a lifecycle rule that expires logs.", "enforcementLevel": "mandatory",
              "message": "Set a lifecycle rule.", "severity": "high", "configSchema": SCHEMA,
              "remediationSteps": "Add a lifecycle rule with an expiration of maxAge days.",
              "url": "https://example.com/retention"}
    body = {"name": "storage-guard", "displayName": "Storage guard", "versionTag": "1.0.0", "policies": [policy],
            "readme": "# Storage guard\n\nRules for **buckets**.\n\n- retention\n"}
    status, created = api("POST", "/api/orgs/default/policypacks", body)
    assert status == 201, (status, created)
    upload = json.loads(created)
    status, _ = api("PUT", "", raw=archive(), url=upload["uploadURI"])
    assert status == 200, status
    status, answer = api("POST", "/api/orgs/default/policypacks/storage-guard/versions/1.0.0/complete")
    assert status == 204, (status, answer)


def report() -> None:
    violation = {"message": "bucket logs keeps objects forever", "policyName": "bucket-retention",
                 "policyPackName": "storage-guard", "policyPackVersion": "1.0.0", "enforcementLevel": "mandatory",
                 "kind": "preventative", "resourceURN": "urn:pulumi:prod::web::aws:s3/bucket:Bucket::logs"}
    status, answer = api("PUT", "/api/preview/insights/default/policy/stacks/web/prod/updates/1/results",
                         {"claimId": "c", "results": {"succeeded": False, "violations": [violation]}})
    assert status == 200, (status, answer)


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                            options=options)


def navigate(driver: webdriver.Chrome, action) -> None:
    """Runs `action` (a click or a key that submits or follows a link) and waits until the next page has replaced
    this one: the driver may return before the browser has loaded it, and the old page would then be read."""
    old = driver.find_element(By.TAG_NAME, "html")
    action()
    WebDriverWait(driver, 20).until(lambda _: replaced(old))
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def replaced(element) -> bool:
    """Whether `element` has left the page. In the middle of a navigation Chromium's driver may say so not with a
    stale-element error but with "Node with given id does not belong to the document" (CI met it once)."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


def check_console(driver: webdriver.Chrome, where: str, error_page: bool = False) -> None:
    """No error and no CSP violation (Chromium reports both on the console). On a page that is an error on purpose
    (a refused sign-in, a refused config, a missing page), the one network entry for its own status is expected."""
    page = driver.current_url.split("#")[0]
    problems = [entry for entry in driver.get_log("browser")
                if (entry["level"] in ("SEVERE", "WARNING") or "Content Security Policy" in entry["message"])
                and not (error_page and entry["source"] == "network" and entry["message"].startswith(page + " "))]
    assert not problems, f"{where}: console: {problems}"


def capture(driver: webdriver.Chrome, name: str, what: str, error_page: bool = False) -> None:
    """Screenshots of the current page at each width, then back to the desktop width."""
    check_console(driver, name, error_page)
    for width_name, (width, height) in WIDTHS.items():
        driver.set_window_size(width, height)
        path = os.path.join(SHOTS, f"{name}-{width_name}.png")
        # The whole page, not only what fits in the window.
        full = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        driver.set_window_size(width, max(height, int(full["height"]) + 120))
        driver.save_screenshot(path)
        shots.append((os.path.basename(path), f"{what} ({width_name}, {width}px wide)"))
    driver.set_window_size(*WIDTHS["desktop"])
    check_console(driver, name)


def main() -> int:
    os.makedirs(SHOTS, exist_ok=True)
    publish()
    driver = browser()
    try:
        driver.get(BASE + "/")
        assert driver.current_url.startswith(BASE + "/sign-in"), driver.current_url
        capture(driver, "01-sign-in", "the sign-in page")

        # Keyboard only: the skip link comes first, then the token field; Enter submits.
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        assert driver.switch_to.active_element.get_attribute("class") == "skip", "the skip link is first"
        driver.switch_to.active_element.send_keys(Keys.TAB)
        active = driver.switch_to.active_element
        if active.get_attribute("id") != "token":
            active.send_keys(Keys.TAB)
            active = driver.switch_to.active_element
        assert active.get_attribute("id") == "token", active.get_attribute("outerHTML")
        navigate(driver, lambda: active.send_keys("pul-" + "0" * 40, Keys.ENTER))
        assert "unknown, revoked or expired" in driver.find_element(By.CSS_SELECTOR, ".problem").text
        capture(driver, "02-sign-in-refused", "the sign-in page refusing an unknown token", error_page=True)
        navigate(driver, lambda: driver.find_element(By.ID, "token").send_keys(TOKEN, Keys.ENTER))
        assert driver.current_url == BASE + "/orgs/default", driver.current_url
        cookie = driver.get_cookie("policyhub_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        capture(driver, "03-organization", "the organization overview: packs, groups, results, activity")

        # The stack must run nothing yet.
        driver.get(BASE + "/orgs/default/stacks/web/prod")
        assert "No pack applies to this stack." in driver.page_source
        capture(driver, "04-stack-before", "a stack before any pack applies to it")

        # Find the pack and read its policies.
        driver.get(BASE + "/orgs/default")
        navigate(driver, lambda: driver.find_element(By.LINK_TEXT, "storage-guard").click())
        assert driver.find_element(By.ID, "policy-bucket-retention").is_displayed()
        text = driver.find_element(By.ID, "policy-bucket-retention").text
        assert "Every bucket has a lifecycle rule" in text and "maxAge" in text and "Add a lifecycle rule" in text
        assert driver.find_element(By.CSS_SELECTOR, ".readme h1").text == "Storage guard"
        capture(driver, "05-pack", "a pack: versions, policies with their config schema, README")

        # Apply it to the default group: first a config the schema refuses, then one it takes.
        driver.get(BASE + "/orgs/default/groups/default-policy-group")
        capture(driver, "06-group", "a policy group, as an admin sees it")
        Select(driver.find_element(By.ID, "apply-pack")).select_by_visible_text("storage-guard")
        navigate(driver, lambda: driver.find_element(By.CSS_SELECTOR, "form[action$='/packs'] button").click())
        area = driver.find_element(By.ID, "config-bucket-retention")
        area.clear()
        area.send_keys('{"maxAge": 0}')
        navigate(driver, lambda: driver.find_element(By.CSS_SELECTOR, ".config-form button[type=submit]").click())
        area = driver.find_element(By.ID, "config-bucket-retention")
        assert area.get_attribute("aria-invalid") == "true"
        errors = driver.find_element(By.ID, "config-bucket-retention-errors").text
        assert "maxAge" in errors, errors
        capture(driver, "07-config-refused", "a config the policy's schema refuses, the error next to the field",
                error_page=True)
        area.clear()
        area.send_keys('{"maxAge": 30}')
        navigate(driver, lambda: driver.find_element(By.CSS_SELECTOR, ".config-form button[type=submit]").click())
        assert driver.current_url == BASE + "/orgs/default/groups/default-policy-group", driver.current_url
        assert "storage-guard" in driver.find_element(By.ID, "applied-title").find_element(By.XPATH, "..").text

        # The stack's required packs changed; it reports what the pack found.
        driver.get(BASE + "/orgs/default/stacks/web/prod")
        assert "storage-guard" in driver.page_source and "1.0.0" in driver.page_source
        report()
        driver.refresh()
        assert "bucket logs keeps objects forever" in driver.page_source
        capture(driver, "08-stack-after", "the stack's required packs and its latest results")

        driver.get(BASE + "/orgs/default/compliance")
        Select(driver.find_element(By.ID, "f-severity")).select_by_visible_text("high")
        navigate(driver, lambda: driver.find_element(By.CSS_SELECTOR, "form.filters button").click())
        assert "severity=high" in driver.current_url and "1 issue." in driver.page_source
        capture(driver, "09-compliance", "violations across the organization, filtered by severity")
        navigate(driver, lambda: driver.find_element(By.LINK_TEXT, "bucket-retention").click())
        assert driver.current_url.endswith("#policy-bucket-retention"), driver.current_url

        driver.get(BASE + "/orgs/default/packs/storage-guard/compare?from=1&to=1")
        capture(driver, "10-compare", "comparing two versions of a pack")
        driver.get(BASE + "/orgs/default/nothing")
        capture(driver, "11-not-found", "the page for an address that does not exist", error_page=True)

        # Sign out with the keyboard: focus the button and press Enter.
        driver.get(BASE + "/orgs/default")
        button = driver.find_element(By.CSS_SELECTOR, ".signout button")
        driver.execute_script("arguments[0].focus()", button)
        navigate(driver, lambda: driver.switch_to.active_element.send_keys(Keys.ENTER))
        assert driver.current_url.startswith(BASE + "/sign-in"), driver.current_url
        driver.get(BASE + "/orgs/default")
        assert driver.current_url.startswith(BASE + "/sign-in"), "signed out"
        check_console(driver, "signed out")
    finally:
        driver.quit()
    with open(os.path.join(SHOTS, "index.txt"), "w") as index:
        for name, what in shots:
            index.write(f"{name}: {what}\n")
    print(f"browser-test: passed; {len(shots)} screenshots in {SHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
