"""The console's quality floor on every page its navigation offers, in a real browser against the
live stack (at 1280x800 and 390x844, each light and dark, as an owner and as the operator; and the
sign-in and create-account page, signed out, in the same four): a title per
page, focus on the new page's heading, the active item marked for screen readers, no sideways
scrolling on a phone, a favicon that resolves, charts with a text alternative, and a screenshot
that is not blank, and no serious or critical axe-core violation. And an owner's keys from the
browser: created with an expiry, rotated, revoked, and the revoked keys then refused over gRPC; and
its members: one invited and registered, their role changed, then removed once confirmed. And the
skip link: the first Tab from a page's load, Enter to the page's heading."""

import contextlib
import datetime as dt
import time

import grpc
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from maas.client import MaasClient, MaasError
from maas.gateway.v1 import admin_pb2
from tests.e2e.test_console import PASSWORD, SCREENS, axe_violations, register_in_console, shot, signed_in_context

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# After a page change: is focus on the page's heading, is the active item the one for the page (and
# only it) marked `aria-current`, and does the page fit the window's width.
_FLOOR_JS = """() => {
  const heading = document.querySelector("main h1");
  const marked = document.querySelectorAll("header nav a[aria-current='page']");
  const current = [...marked].map((a) => a.getAttribute("href"));
  const root = document.scrollingElement;
  return { focused: Boolean(heading) && document.activeElement === heading, current,
           overflow: root.scrollWidth - innerWidth, title: document.title };
}"""
# Every canvas and svg in the page, and whether it has a text alternative: an aria-label on it or
# on the element around it, or a figure with a caption, or a table next to it.
_CHARTS_JS = """() => [...document.querySelectorAll("main canvas, main svg, main .chart")].map((el) => {
  const labelled = el.closest("[aria-label]")?.getAttribute("aria-label");
  const figure = el.closest("figure")?.querySelector("figcaption")?.textContent;
  const table = el.closest("section")?.querySelector("table");
  return { tag: el.tagName, alternative: Boolean((labelled || figure || "").trim() || table) };
})"""
_FAVICON_JS = """async () => {
  const link = document.querySelector("link[rel~='icon']");
  if (!link) return 0;
  const answer = await fetch(link.href);
  return answer.ok ? (await answer.blob()).size : 0;
}"""


# What shows that a page has loaded what it asks the API for (its charts drawn, its lists filled).
READY = {f"#/{screen}": selector for screen, selector in SCREENS.items()}
READY.update({"#/keys": "#new-key", "#/admin": "#plans table"})


def _check_every_page(page, where: str, extra_routes: dict[str, str] | None = None) -> list[str]:
    """Visit `extra_routes` (route: what shows it has loaded) by address, then each navigation item
    by clicking it, and check the floor on each; returns what falls short."""
    shortfalls, titles = [], {}
    extra_routes = extra_routes or {}
    ready = READY | extra_routes
    nav = page.locator("header nav a")
    nav.first.wait_for()
    hrefs = [nav.nth(i).get_attribute("href") for i in range(nav.count())]
    assert len(hrefs) >= 1, hrefs
    visits = [(route, False) for route in extra_routes] + [(href, True) for href in hrefs]
    for href, in_nav in visits:
        if in_nav:
            page.click(f"header nav a[href='{href}']")
        else:
            page.goto(f"/{href}")
        page.wait_for_url(f"**/{href}")
        page.locator("main h1").wait_for()
        # Focus and the title follow the route once the page has rendered (an effect).
        with contextlib.suppress(PlaywrightTimeout):  # if it never does, it is said below
            page.wait_for_function("() => document.activeElement === document.querySelector('main h1')", timeout=5_000)
        page.locator(ready.get(href, "main h1")).first.wait_for(state="attached")
        if page.locator("main .chart").count():
            page.locator("main .chart canvas").first.wait_for()
        floor = page.evaluate(_FLOOR_JS)
        name = href.strip("#/").replace("/", "-")
        titles[floor["title"]] = href
        if not floor["focused"]:
            shortfalls.append(f"{where} {href}: focus is not on the page's heading")
        section = href if in_nav else f"#/{href.split('/')[1]}"
        if floor["current"] != [section]:
            shortfalls.append(f"{where} {href}: aria-current on {floor['current']}, not on {section}")
        if floor["overflow"] > 1:
            shortfalls.append(f"{where} {href}: {floor['overflow']} px wider than the window")
        if page.evaluate(_FAVICON_JS) <= 0:
            shortfalls.append(f"{where} {href}: no favicon that resolves")
        for chart in page.evaluate(_CHARTS_JS):
            if not chart["alternative"]:
                shortfalls.append(f"{where} {href}: a {chart['tag']} without a text alternative")
        shot(page, f"40-floor-{where}-{name}")
        shortfalls += [f"{where} {href}: {v}" for v in axe_violations(page)]
    if len(titles) != len(visits):
        shortfalls.append(f"{where}: pages share a title: {titles}")
    return shortfalls


def _owner_context(browser, stack, email: str, viewport, scheme: str, invitation: str | None = None):
    """A browser context signed in as the owner `email`: registered with `invitation`, or signed in
    with the password on the console's form."""
    width, height = viewport
    context = browser.new_context(
        base_url=stack.http_url, viewport={"width": width, "height": height}, color_scheme=scheme
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    if invitation:
        register_in_console(page, email, invitation)
    else:
        page.goto("/")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("#account-submit")
        page.locator("h1", has_text="Datasets").wait_for()
    return context, page


# Every page is shot and checked in each of these (light and dark, wide and phone-sized).
COMBINATIONS = (((1280, 800), "light"), ((1280, 800), "dark"), ((390, 844), "light"), ((390, 844), "dark"))


def test_the_sign_in_and_create_account_page_meets_the_floor(browser, stack):
    """Signed out, in each combination: the sign-in page and its create-account form are not blank,
    fit a phone's width, and have no serious or critical axe-core violation."""
    shortfalls = []
    for (width, height), scheme in COMBINATIONS:
        where = f"{width}x{height}-{scheme}"
        context = browser.new_context(
            base_url=stack.http_url, viewport={"width": width, "height": height}, color_scheme=scheme
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto("/")
        page.locator("#key").wait_for()
        page.locator("#account").wait_for()
        for form, ready in (("sign-in", "#account-submit"), ("create-account", "#invitation")):
            if form == "create-account":
                page.click("#account button.secondary")  # "Create an account"
            page.locator(ready).wait_for()
            overflow = page.evaluate(_FLOOR_JS)["overflow"]
            if overflow > 1:
                shortfalls.append(f"{form} {where}: {overflow} px wider than the window")
            shot(page, f"40-floor-{form}-{where}")
            shortfalls += [f"{form} {where}: {v}" for v in axe_violations(page)]
        assert "Register and sign in" in page.inner_text("#account-submit")
        context.close()
    assert not shortfalls, "\n".join(shortfalls)


def test_every_page_meets_the_floor_wide_and_narrow_light_and_dark_and_as_admin(browser, stack, journey):
    # An owner of the journey's tenant: its datasets, jobs and models are there, and the Keys and
    # Invoices pages in the navigation.
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        invitation = admin.create_invitation("e2e", "owner").token
    with MaasClient(stack.address("gateway"), journey.api_key) as client:
        job = client.get_model_version(journey.model_version).lineage.training_job.split("/")[-1]
    # One job's charts and one model's tables, with the pages of the navigation.
    extra = {f"#/jobs/{job}": SCREENS["job"], "#/models/digits": SCREENS["model"]}
    shortfalls, seconds = [], {}
    for i, (viewport, scheme) in enumerate(COMBINATIONS):
        started = time.monotonic()
        where = f"owner-{viewport[0]}x{viewport[1]}-{scheme}"
        context, page = _owner_context(
            browser, stack, "floor@example.com", viewport, scheme, invitation if i == 0 else None
        )
        hrefs = page.locator("header nav a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
        assert {"#/keys", "#/invoices", "#/usage"} <= set(hrefs), hrefs
        shortfalls += _check_every_page(page, where, extra)
        context.close()
        seconds[where] = time.monotonic() - started
    for viewport, scheme in COMBINATIONS:
        started = time.monotonic()
        where = f"admin-{viewport[0]}x{viewport[1]}-{scheme}"
        context = signed_in_context(browser, stack, stack.admin_key, viewport, scheme)
        context.add_init_script("sessionStorage.setItem('maas.admin', '1')")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto("/#/admin")
        page.locator("#tenants table").wait_for()
        page.goto("/#/nowhere")  # a route the admin view lacks opens its page: then the click moves
        shortfalls += _check_every_page(page, where)
        context.close()
        seconds[where] = time.monotonic() - started
    print("floor seconds per combination:", {where: round(s, 1) for where, s in seconds.items()})
    assert not shortfalls, "\n".join(shortfalls)


def test_the_first_tab_reaches_the_skip_link_and_enter_moves_focus_to_the_heading(browser, stack, journey):
    """A page opened by its address: the first Tab stops on the skip link (shown while focused), and
    Enter on it moves focus past the header and navigation to the page's heading."""
    context = signed_in_context(browser, stack, journey.api_key)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/#/models")
    page.locator("main h1", has_text="Models").wait_for()
    page.locator("main table").wait_for()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.innerText]")
    assert focused == ["skip", "Skip to content"], focused
    box = page.locator("a.skip").bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, box  # on the screen while focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement === document.querySelector('main h1')")
    page.keyboard.press("Tab")  # and the next stop is in the page, not back in the navigation
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")
    context.close()


def _refused(stack, secret: str, within: float = 30.0) -> grpc.StatusCode | None:
    """The gRPC status a call with `secret` ends with once the gateway's key cache has let the
    revocation through (it bounds that by seconds); None if it was still answered at the end."""
    deadline = time.monotonic() + within
    while True:
        with MaasClient(stack.address("gateway"), secret) as program:
            try:
                program.list_models()
            except MaasError as error:
                return error.code
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def _new_owner_on_keys(browser, stack, tenant: str, email: str):
    """A browser context and page of the first owner `email` of a new tenant, on its Keys page."""
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.create_tenant(tenant)
        invitation = admin.create_invitation(tenant, "owner").token
    context, page = _owner_context(browser, stack, email, (1280, 800), "light", invitation)
    page.click("a[href='#/keys']")
    page.locator("h1", has_text="Keys and members").wait_for()
    return context, page


def test_an_owner_creates_rotates_and_revokes_a_key_in_the_browser(browser, stack):
    context, page = _new_owner_on_keys(browser, stack, "browser-keys", "keys@example.com")

    # Created with a lifetime chosen from the list (90 days unless changed); the secret shown once.
    assert page.input_value("#key-expiry") == "90"
    assert page.locator("#key-expiry option").all_inner_texts() == ["7 days", "30 days", "90 days", "1 year", "never"]
    page.fill("#key-name", "deploy")
    page.select_option("#key-expiry", "30")
    page.click("#new-key button[type=submit]")
    secret = page.locator("#secret code").inner_text()
    first = page.locator("#secret").get_attribute("data-key")
    row = page.locator("main tr", has=page.locator(f"button[data-rotate='{first}']"))
    row.wait_for()
    assert page.locator(f"[data-last-use='{first}']").inner_text() == "never"
    with MaasClient(stack.address("gateway"), secret) as program:
        assert program.list_models() == []
        (made,) = [k for k in program_keys(stack, "browser-keys") if k.name.endswith(f"/{first}")]
    lifetime = made.expire_time.seconds - made.create_time.seconds
    assert abs(lifetime - 30 * 86400) < 120, lifetime
    assert made.expire_time.ToDatetime().date().isoformat() in row.inner_text()  # the Expires column
    assert made.create_time.ToDatetime().date().isoformat() in row.inner_text()  # the Created column
    assert page.locator(f"[data-key-state='{first}']").inner_text() == "active"
    shot(page, "41-key-created")

    # Last used: the call above (which the registry admitted and reported) shows once the gateway
    # writes it, the exact time in the title.
    used = _last_use_shown(page, first)
    assert used.inner_text() == "just now"
    (made,) = [k for k in program_keys(stack, "browser-keys") if k.name.endswith(f"/{first}")]
    exact = made.last_use_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")
    assert used.get_attribute("title") == exact

    # Rotate: a new key with the same name, scopes and lifetime, its secret shown once; the old revoked.
    page.click(f"button[data-rotate='{first}']")
    page.wait_for_function("first => document.querySelector('#secret')?.dataset.key !== first", arg=first)
    rotated = page.locator("#secret code").inner_text()
    second = page.locator("#secret").get_attribute("data-key")
    assert rotated != secret and "now revoked" in page.inner_text("#secret")
    page.locator(f"[data-key-state='{first}']", has_text="revoked").wait_for()
    assert page.locator(f"button[data-rotate='{first}']").count() == 0
    new = page.locator("main tr", has=page.locator(f"button[data-revoke='{second}']"))
    assert "deploy" in new.inner_text() and "read, predict, train" in new.inner_text()
    (remade,) = [k for k in program_keys(stack, "browser-keys") if k.name.endswith(f"/{second}")]
    assert abs((remade.expire_time.seconds - remade.create_time.seconds) - lifetime) < 120
    assert _refused(stack, secret) == grpc.StatusCode.UNAUTHENTICATED
    with MaasClient(stack.address("gateway"), rotated) as program:
        program.get_usage()  # a call the gateway itself answers
    assert _last_use_shown(page, second).inner_text() == "just now"
    shot(page, "42-key-rotated")

    # Revoke, once confirmed: kept when the owner thinks again; then marked revoked in the list,
    # and refused over gRPC from then on.
    page.click(f"button[data-revoke='{second}']")
    dialog = page.get_by_role("alertdialog", name="confirm revocation")
    assert remade.prefix in dialog.inner_text()
    dialog.get_by_role("button", name="Keep the key").click()
    dialog.wait_for(state="detached")
    assert page.locator(f"[data-key-state='{second}']").inner_text() == "active"
    page.click(f"button[data-revoke='{second}']")
    shot(page, "43-key-revoke-confirmation")
    page.click("button.confirm-revoke")
    page.locator(f"[data-key-state='{second}']", has_text="revoked").wait_for()
    assert page.locator(f"button[data-revoke='{second}']").count() == 0
    assert _refused(stack, rotated) == grpc.StatusCode.UNAUTHENTICATED
    shot(page, "43-key-revoked")
    context.close()


def _roles(stack, tenant: str) -> dict[str, str]:
    """The tenant's members' roles by email, as the operator lists them."""
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        return {m.email: m.role for m in admin.list_members(tenant)}


def test_an_owner_changes_a_members_role_and_removes_them_in_the_browser(browser, stack):
    context, page = _new_owner_on_keys(browser, stack, "browser-members", "members@example.com")

    # An invitation made on the page (developer unless changed), taken up in another browser.
    assert page.input_value("#role") == "developer"
    page.click("#invite button[type=submit]")
    token = page.locator("#invitation-token code").inner_text()
    other, _ = _owner_context(browser, stack, "dev@example.com", (1280, 800), "light", token)
    other.close()

    page.reload()
    role = page.locator("select[data-member-role='dev@example.com']")
    role.wait_for()
    assert role.input_value() == "developer"
    mine = page.locator("select[data-member-role='members@example.com']")
    assert mine.input_value() == "owner" and "(you)" in page.locator("main tr", has=mine).inner_text()
    assert page.locator("button[data-remove='members@example.com']").count() == 0  # not one's own row
    assert page.locator("button[data-remove='dev@example.com']").count() == 1

    # The last owner cannot demote themselves: the API's refusal shown, the role as it was.
    mine.select_option("viewer")
    refusal = page.locator("#members .error")
    refusal.wait_for()
    assert "last owner" in refusal.inner_text(), refusal.inner_text()
    own = "select[data-member-role='members@example.com']"
    page.wait_for_function("(own) => document.querySelector(own).value === 'owner'", arg=own)
    assert _roles(stack, "browser-members")["members@example.com"] == "owner"

    # A role changed in place: the API has it, and the error is gone.
    role.select_option("viewer")
    refusal.wait_for(state="detached")
    deadline = time.monotonic() + 10
    while _roles(stack, "browser-members")["dev@example.com"] != "viewer":
        assert time.monotonic() < deadline, _roles(stack, "browser-members")
        time.sleep(0.2)
    page.reload()
    assert page.locator("select[data-member-role='dev@example.com']").input_value() == "viewer"
    shot(page, "45-members")

    # Removed once confirmed: kept when the owner thinks again.
    page.click("button[data-remove='dev@example.com']")
    dialog = page.get_by_role("alertdialog", name="confirm removal")
    assert "dev@example.com (viewer)" in dialog.inner_text()
    dialog.get_by_role("button", name="Keep the member").click()
    dialog.wait_for(state="detached")
    assert "dev@example.com" in _roles(stack, "browser-members")
    page.click("button[data-remove='dev@example.com']")
    shot(page, "46-member-remove-confirmation")
    page.click("button.confirm-remove")
    page.locator("select[data-member-role='dev@example.com']").wait_for(state="detached")
    assert _roles(stack, "browser-members") == {"members@example.com": "owner"}
    context.close()


def _last_use_shown(page, key_id: str, within: float = 15.0):
    """The key's Last used cell once it no longer says "never" (the page reloaded until then)."""
    deadline = time.monotonic() + within
    while True:
        cell = page.locator(f"[data-last-use='{key_id}']")
        cell.wait_for()
        if cell.inner_text() != "never":
            return cell
        assert time.monotonic() < deadline, "the key's use never showed"
        time.sleep(0.5)
        page.reload()


def program_keys(stack, tenant: str):
    """The tenant's keys as the operator lists them."""
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        request = admin_pb2.ListApiKeysRequest(parent=f"tenants/{tenant}")
        return list(admin.admin.ListApiKeys(request, **admin.call_options()).api_keys)


def test_an_expired_key_is_shown_expired(browser, stack):
    with MaasClient(stack.address("gateway"), stack.admin_key) as admin:
        admin.create_tenant("browser-expired")
        invitation = admin.create_invitation("browser-expired", "owner").token
        key = admin_pb2.ApiKey(display_name="short-lived")
        key.expire_time.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
        request = admin_pb2.CreateApiKeyRequest(parent="tenants/browser-expired", api_key=key)
        made = admin.admin.CreateApiKey(request, **admin.call_options())
    key_id = made.api_key.name.split("/")[-1]
    time.sleep(2.5)
    context, page = _owner_context(browser, stack, "expired@example.com", (390, 844), "dark", invitation)
    page.click("a[href='#/keys']")
    state = page.locator(f"[data-key-state='{key_id}']")
    state.wait_for()
    assert state.inner_text() == "expired"
    assert made.api_key.expire_time.ToDatetime().date().isoformat() in page.locator("main tr", has=state).inner_text()
    assert _refused(stack, made.secret) == grpc.StatusCode.UNAUTHENTICATED
    shot(page, "44-key-expired-390x844-dark")
    context.close()
