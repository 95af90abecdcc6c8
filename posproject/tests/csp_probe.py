"""Test helper, run as its own process by test_security_csp_browser.py: opens pages in headless chromium (Playwright)
and prints, as JSON, what each page did under the Content-Security-Policy. A process of its own, because Playwright's
sync API cannot start while another test module's browser holds the event loop of the pytest process.

    python -m posproject.tests.csp_probe <chromium> <base url> <session cookie name> <value> < pages.json

pages.json: [{"path": "/admin/", "wait_for": "css", "toggle": "css of a button", "watch": "css"}, ...]; with
"toggle", the button is clicked and the "watch" element's class attribute before and after is reported.
"""

import json
import sys

from playwright.sync_api import sync_playwright

COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def probe(chromium: str, base_url: str, cookie: dict, pages: list[dict]) -> list[dict]:
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"], headless=True
        )
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{**cookie, "url": base_url}])
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for spec in pages:
            errors.clear()
            result = {"path": spec["path"]}
            response = page.goto(spec["path"])
            result["status"] = response.status
            result["csp"] = response.headers.get("content-security-policy", "")
            try:
                page.wait_for_selector(spec["wait_for"])
                result["ready"] = True
            except Exception as error:  # reported, not raised: the test decides
                result["ready"] = False
                result["ready_error"] = str(error).splitlines()[0]
            if spec.get("toggle") and result["ready"]:
                result["before"] = page.locator(spec["watch"]).get_attribute("class")
                page.locator(spec["toggle"]).click()
                result["after"] = page.locator(spec["watch"]).get_attribute("class")
            result["violations"] = page.evaluate("window.__csp")
            result["errors"] = list(errors)
            results.append(result)
        browser.close()
    return results


if __name__ == "__main__":
    chromium, base_url, name, value = sys.argv[1:5]
    print(json.dumps(probe(chromium, base_url, {"name": name, "value": value}, json.load(sys.stdin))))
