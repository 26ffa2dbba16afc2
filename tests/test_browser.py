"""Browser tests (issue 5): the web pages in headless Chromium, against the app served for real.

Each test starts daphne and a django-q2 worker as separate processes on the test database, as
in production, so the page gets its live updates over a real WebSocket from a real worker
(through Redis when REDIS_URL is set, else through the embedded database relay in daphne).
Playwright drives Debian's Chromium (/usr/bin/chromium); no browser is ever downloaded.

Screenshots go to test-artifacts/screenshots/ at the repository root (git-ignored).
"""

import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connections

from catalog import services, storage
from catalog.models import Dataset
from tests.fakehub import repos
from tests.processes import ROOT, free_port, start_daphne, start_worker, wait_serving, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "wonderland-42"  # tests/fixtures.py's `user`
# One worker is enough for one download at a time, and starts faster on a small CI machine.
PROCESS_ENV = {"HFD_WORKERS": 1, "HFD_PROGRESS_INTERVAL": 0.2}
MULTI_TRAIN = repos.MULTI_FILES["default"]["train"]
TIMEOUT_MS = 15_000
LIST_URL = re.compile(r"^http://127\.0\.0\.1:\d+/$")  # the datasets page, with no query


def _text(value):
    """Text as shown, with the non-breaking spaces of sizes ("2.8\u00a0MB") made plain."""
    return " ".join((value or "").replace("\u00a0", " ").split())


def js_size(n):
    """app.js formatBytes (and Django's filesizeformat) for sizes of a megabyte or more."""
    return f"{n / 1024 / 1024:.1f} MB"


def screenshot(page, name, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def orm(transactional_db):
    """Run database code from a test: orm(function, *args) calls it in a thread of its own.

    While Playwright's sync API is started, the test's thread has a running asyncio loop (its
    dispatcher), and Django refuses database access there (SynchronousOnlyOperation). The
    rows are committed (transactional_db), so another thread's connection sees them.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orm")

    def call(function, *args, **kwargs):
        return pool.submit(function, *args, **kwargs).result(timeout=60)

    yield call
    pool.submit(connections.close_all).result(timeout=60)
    pool.shutdown()


@pytest.fixture(scope="module", autouse=True)
def chromium_installed():
    """Debian's Chromium and Playwright. Missing: skipped, except under CI (CI=true), where they must be there.

    Autouse, so the check comes before any process is started.
    """
    missing = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing = f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need Debian's Chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}", pytrace=False)
        pytest.skip(missing)


@pytest.fixture
def browser(transactional_db, user):
    """Headless Debian Chromium (never a downloaded browser).

    Started after the database and the user are set up and stopped before the database is
    flushed: Django refuses the test thread's database access while Playwright runs (see orm).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """The static files collected once, as scripts/run.sh does: daphne (DEBUG off) serves them via WhiteNoise."""
    root = tmp_path_factory.mktemp("static")
    env = dict(os.environ, HFD_STATIC_ROOT=str(root), SECRET_KEY="collectstatic-only")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    assert (root / "js" / "app.js").exists()
    return root


class App:
    def __init__(self, url, web, worker):
        self.url, self.web, self.worker = url, web, worker


@pytest.fixture
def app(transactional_db, fake_hub, tmp_path, static_root):
    """daphne and a worker on the test database and this test's data directory."""
    port = free_port()
    env = dict(PROCESS_ENV, HFD_STATIC_ROOT=static_root)
    web = start_daphne(tmp_path, port, **env)
    worker = start_worker(tmp_path, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(web, url)
        yield App(url, web, worker)
    finally:
        worker.stop()
        web.stop()
        # Shown by pytest only when the test failed.
        print(f"--- daphne log ({web.log_path})\n{web.output()[-6000:]}")
        print(f"--- worker log ({worker.log_path})\n{worker.output()[-6000:]}")


class Browsing:
    """A browser context (one person's cookies) whose pages record JavaScript errors and console errors."""

    def __init__(self, browser, base_url):
        self.context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.errors = []
        self.pages = []

    def new_page(self):
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"{page.url}: console: {m.text}"))
        page.on("dialog", lambda dialog: self.errors.append(f"unexpected native dialog: {dialog.message}"))
        self.pages.append(page)
        return page


@pytest.fixture
def browsing(browser, app, request):
    session = Browsing(browser, app.url)
    yield session
    # Whatever the outcome, keep what each page looked like at the end.
    for i, page in enumerate(session.pages):
        if not page.is_closed():
            try:
                screenshot(page, f"{request.node.name}-end-{i}")
            except Exception:  # a screenshot must not hide the test's own failure
                pass
    session.context.close()


# ---------------------------------------------------------------------------------------------- helpers


def log_in(page, username, password=PASSWORD):
    """Through the login form, as a person would; ends on the datasets page with its socket live."""
    page.goto("/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/$"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(LIST_URL)
    assert page.locator(".account-name").inner_text() == username
    wait_live(page)


def wait_live(page):
    page.locator("[data-live-state][data-state=live]").first.wait_for(state="attached")


def mark_page(page):
    """Set a variable in the page: it survives only as long as the page is not reloaded."""
    token = uuid.uuid4().hex
    page.evaluate("token => { window.__noReload = token; }", token)
    return token


def assert_not_reloaded(page, token):
    assert page.evaluate("() => window.__noReload") == token, "the page was reloaded"


def card(page, dataset_id):
    return page.locator(f'#dataset-cards .card[data-dataset-id="{dataset_id}"]')


CARD_STATE_JS = """id => {
  const card = document.querySelector(`#dataset-cards .card[data-dataset-id="${id}"]`);
  if (!card) return null;
  const bar = card.querySelector('progress[data-field="progress"]');
  const field = name => card.querySelector(`[data-field="${name}"]`).textContent;
  return {
    status: card.getAttribute("data-status"), badge: field("status"),
    value: bar.hasAttribute("value") ? bar.value : null,
    percent: field("percent"), bytes: field("bytes"), speed: field("speed"),
  };
}"""


def card_state(page, dataset_id):
    return page.evaluate(CARD_STATE_JS, str(dataset_id))


def wait_for_status(page, orm, dataset_id, status, timeout=60):
    locator = card(page, dataset_id)
    label = status.capitalize()
    try:
        locator.locator('[data-field="status"]').filter(has_text=re.compile(f"^{label}$")).wait_for(
            timeout=timeout * 1000
        )
    except Exception:
        row = orm(lambda: Dataset.objects.filter(pk=dataset_id).values("status", "error_message").first())
        raise AssertionError(
            f"card of {dataset_id} did not become {status} within {timeout}s: {card_state(page, dataset_id)}, "
            f"database: {row}"
        ) from None
    return locator


STATUSES = ["pending", "downloading", "processing", "ready", "failed", "cancelled"]


def tab_counts(page):
    """The datasets page's status tabs: {"all": n, "ready": n, ...}."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("[data-status-tab]")]
      .map(a => [a.getAttribute("data-status-tab") || "all", Number(a.querySelector("[data-count]").textContent)]))""")


def expect_tab_counts(page, timeout=10, **nonzero):
    """Wait for the tabs to show these counts (every other status 0): they follow the live updates too."""
    expected = {"all": sum(nonzero.values()), **dict.fromkeys(STATUSES, 0), **nonzero}
    try:
        wait_until(lambda: tab_counts(page) == expected, timeout=timeout, interval=0.1, message=f"tabs {expected}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; shown: {tab_counts(page)}") from None


def row_ids(page):
    """The values of the "id" column of the detail page's row table."""
    return page.evaluate("""() => {
      const table = document.querySelector("table.rows-table");
      const heads = [...table.querySelectorAll("thead th")].map(th => th.textContent.trim());
      const column = heads.indexOf("id");
      return [...table.querySelectorAll("tbody tr")].map(tr => Number(tr.children[column].textContent.trim()));
    }""")


# ---------------------------------------------------------------------------------------------- tests


def test_log_in_download_watch_live_progress_and_page_through_rows(app, browsing, orm, fake_hub, user):
    files = fake_hub.standard_repos[repos.MULTI]["files"]
    total = sum(len(files[path]) for path in MULTI_TRAIN)
    # Four ~0.7 MB files fetched at once at 120 kB/s each: about 6 s of download.
    fake_hub.throttle(repos.MULTI, bytes_per_second=120_000, path_glob="data/train-*")

    # A wrong password is refused on the form; the right one lands on the (empty) datasets page.
    listing = browsing.new_page()
    listing.goto("/")
    listing.locator("#id_username").fill(user.username)
    listing.locator("#id_password").fill("not-the-password")
    listing.get_by_role("button", name="Log in").click()
    assert "correct username and password" in listing.locator(".form-errors").inner_text()
    log_in(listing, user.username)
    assert listing.locator("[data-empty]").is_visible()
    expect_tab_counts(listing)
    token = mark_page(listing)

    # The download form, in a second tab: the JavaScript looks the id up on the Hub as it is typed.
    form = browsing.new_page()
    form.goto("/datasets/new/")
    form.locator("#id_repo_id").press_sequentially(repos.MULTI, delay=15)
    sha = fake_hub.standard_repos[repos.MULTI]["sha"]
    form.locator("[data-hub-status][data-state=ok]").wait_for()
    assert f"Found {repos.MULTI} at commit {sha[:10]}: 2 subsets." == form.locator("[data-hub-status]").inner_text()
    subset, split = form.locator("select#id_subset"), form.locator("select#id_split")
    assert subset.locator("option").all_inner_texts() == ["default", "extra"]
    assert [o.get_attribute("value") for o in subset.locator("option").all()] == ["", "extra"]
    assert [o.get_attribute("value") for o in split.locator("option").all()] == ["train", "test"]
    summary = form.locator("[data-size-summary]")
    # Another subset offers its own splits and sizes; back on the default, the size of its train split.
    subset.select_option("extra")
    assert "in 1 file (extra / train)." in _text(summary.inner_text())
    subset.select_option("")
    split.select_option("train")
    assert _text(split.locator("option:checked").inner_text()) == f"train — {js_size(total)} in 4 files"
    shown = _text(summary.inner_text())
    assert shown.startswith(f"This download is {js_size(total)} in 4 files (default / train)."), shown
    assert "free on the server." in shown
    screenshot(form, "1-download-form")
    form.get_by_role("button", name="Start download").click()

    # Submitting opens the new dataset's page, which says what was queued.
    form.wait_for_url(re.compile(r"/datasets/[0-9a-f-]{36}/$"))
    dataset_id = uuid.UUID(form.url.rstrip("/").rsplit("/", 1)[1])
    message = _text(form.locator("#messages").inner_text())
    assert f"Queued {repos.MULTI} train: 4 files, {js_size(total)} to download." in message
    dataset = orm(Dataset.objects.get, pk=dataset_id)
    assert (dataset.repo_id, dataset.subset, dataset.split, dataset.owner_id) == (repos.MULTI, "", "train", user.pk)

    # Meanwhile the list in the first tab got the new card over its socket and follows it.
    listing.bring_to_front()
    card(listing, dataset_id).wait_for()
    observed, shots = [], []

    def record():
        state = card_state(listing, dataset_id)
        if state and (not observed or state != observed[-1]):
            observed.append(state)
            if not shots and state["status"] == "downloading" and 20 < (state["value"] or 0) < 80:
                screenshot(listing, "2-datasets-downloading")
                shots.append(state)
        return state and state["status"] in ("ready", "failed", "cancelled")

    try:
        wait_until(record, timeout=90, interval=0.1, message="the download to finish in the page")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the card showed: {observed}") from None
    final = observed[-1]
    assert final["status"] == "ready", (observed, orm(Dataset.objects.get, pk=dataset_id).error_message)
    assert final["badge"] == "Ready"

    # The bar moved forward several times while downloading, never back, and the speed was shown.
    moving = [s["value"] for s in observed if s["status"] == "downloading" and s["value"] is not None]
    assert moving == sorted(moving), observed
    assert len({v for v in moving if 0 < v < 100}) >= 2, observed
    assert any(
        s["status"] == "downloading" and re.fullmatch(r"[\d.]+\s(KB|MB)/s", _text(s["speed"])) for s in observed
    ), observed
    assert any(_text(s["bytes"]).endswith(f" of {js_size(total)}") for s in observed), observed

    # Ready, without a reload: the row count is shown and the progress bar is gone.
    ready_card = card(listing, dataset_id)
    assert_not_reloaded(listing, token)
    assert _text(ready_card.locator('[data-part="ready"]').inner_text()).startswith("20,000 rows")
    assert not ready_card.locator('[data-part="progress"]').is_visible()
    assert not ready_card.get_by_role("button", name="Cancel").is_visible()
    expect_tab_counts(listing, ready=1)
    screenshot(listing, "3-datasets-ready")
    dataset = orm(Dataset.objects.get, pk=dataset_id)
    assert (dataset.status, dataset.total_samples, dataset.downloaded_bytes) == ("ready", 20_000, total)

    # The dataset's own page, open since the submit, reloads itself once ready to show the rows.
    form.locator("table.rows-table").wait_for(timeout=20_000)

    # The detail page from the card: rows 0-24, then the next page shows the next 25 rows.
    ready_card.locator('a[data-field="name"]').click()
    listing.wait_for_url(f"**/datasets/{dataset_id}/")
    assert listing.locator("h1 [data-field=status]").text_content() == "Ready"
    assert _text(listing.locator("#rows .muted").first.inner_text()).startswith("Rows 0–24 of 20,000.")
    first_page = row_ids(listing)
    assert first_page == list(range(25))
    screenshot(listing, "4-detail-rows-page-1")
    listing.locator('nav[aria-label="Row pages"]').get_by_role("link", name="Next →").click()
    listing.wait_for_url(re.compile(r"\?page=2#rows$"))
    assert _text(listing.locator("#rows .muted").first.inner_text()).startswith("Rows 25–49 of 20,000.")
    second_page = row_ids(listing)
    assert second_page == list(range(25, 50))
    assert not set(first_page) & set(second_page)
    assert listing.locator('nav[aria-label="Row pages"] [aria-current=page]').inner_text() == "2"
    screenshot(listing, "5-detail-rows-page-2")

    assert not browsing.errors, browsing.errors


def test_cancel_a_slow_download_from_the_list_then_retry_it(app, browsing, orm, fake_hub, user):
    files = fake_hub.standard_repos[repos.MULTI]["files"]
    total = sum(len(files[path]) for path in MULTI_TRAIN)
    fake_hub.throttle(repos.MULTI, bytes_per_second=60_000, path_glob="data/train-*")  # ~12 s for all of it

    page = browsing.new_page()
    log_in(page, user.username)
    token = mark_page(page)
    dataset, created = orm(services.request_download, repos.MULTI, split="train", owner=user)
    assert created
    item = card(page, dataset.pk)
    item.wait_for()  # arrived over the socket
    expect_tab_counts(page, timeout=30, downloading=1)

    # Cancel once a good part is on disk.
    def past_a_fifth():
        state = card_state(page, dataset.pk)
        return state["status"] == "downloading" and (state["value"] or 0) >= 20

    wait_until(past_a_fifth, timeout=60, interval=0.1, message="the download to pass 20% in the page")
    item.get_by_role("button", name="Cancel").click()
    wait_for_status(page, orm, dataset.pk, "cancelled", timeout=10)
    assert item.locator('[data-part="error"]').inner_text() == "Cancelled by request."
    assert item.get_by_role("button", name="Retry").is_visible()
    assert not item.get_by_role("button", name="Cancel").is_visible()
    assert not item.locator('[data-part="progress"]').is_visible()
    expect_tab_counts(page, cancelled=1)
    dataset = orm(Dataset.objects.get, pk=dataset.pk)
    assert dataset.status == Dataset.Status.CANCELLED
    kept = dataset.downloaded_bytes
    assert 0.2 * total <= kept < total, (kept, total)
    screenshot(page, "6-datasets-cancelled")

    # The worker stops fetching within about a second; a cancelled download stays cancelled.
    last_seen = [None]

    def stopped_fetching():
        now, before = fake_hub.bytes_served(repos.MULTI), last_seen[0]
        last_seen[0] = now
        return now if now == before else None

    # Throttled, a fetching worker gets a chunk every 50 ms: no new byte in 0.5 s means it stopped.
    served = wait_until(stopped_fetching, timeout=15, interval=0.5, message="the worker to stop fetching")
    assert orm(Dataset.objects.get, pk=dataset.pk).status == Dataset.Status.CANCELLED
    assert card_state(page, dataset.pk)["status"] == "cancelled"

    # Retry at full speed: it resumes from the bytes on disk and becomes ready, still without a reload.
    fake_hub.unthrottle()
    item.get_by_role("button", name="Retry").click()
    wait_for_status(page, orm, dataset.pk, "ready", timeout=60)
    assert_not_reloaded(page, token)
    assert not item.get_by_role("button", name="Retry").is_visible()
    assert not item.locator('[data-part="error"]').is_visible()
    assert _text(item.locator('[data-part="ready"]').inner_text()).startswith("20,000 rows")
    expect_tab_counts(page, ready=1)
    dataset = orm(Dataset.objects.get, pk=dataset.pk)
    assert (dataset.status, dataset.downloaded_bytes, dataset.total_samples) == ("ready", total, 20_000)
    # Resumed, not restarted: both runs together fetched the dataset about once.
    refetched = fake_hub.bytes_served(repos.MULTI) - served
    assert served + refetched <= 1.1 * total, f"fetched {served} + {refetched} bytes of {total}; {kept} were on disk"
    screenshot(page, "7-datasets-retried-ready")

    assert not browsing.errors, browsing.errors


def test_delete_from_the_list_and_from_the_detail_page(app, browsing, orm, fake_hub, user):
    page = browsing.new_page()
    log_in(page, user.username)
    token = mark_page(page)
    # A second tab on the list sees deletions made in the first one.
    other = browsing.new_page()
    other.goto("/")
    wait_live(other)

    jsonl, _ = orm(services.request_download, repos.JSONL, split="test", owner=user)
    csv, _ = orm(services.request_download, repos.CSV, split="test", owner=user)
    for dataset in (jsonl, csv):
        wait_for_status(page, orm, dataset.pk, "ready", timeout=60)
        wait_for_status(other, orm, dataset.pk, "ready", timeout=10)
    assert Path(storage.dataset_dir(jsonl.pk)).is_dir()
    expect_tab_counts(page, ready=2)
    expect_tab_counts(other, ready=2)

    # Delete asks first, naming the dataset and the space it frees; "Keep it" keeps it.
    dialog = page.locator("dialog#confirm-delete")
    card(page, jsonl.pk).get_by_role("link", name="Delete").click()
    dialog.wait_for(state="visible")
    assert _text(dialog.locator("h2").inner_text()) == f"Delete {jsonl.name}?"
    frees = _text(dialog.locator("[data-confirm-frees]").inner_text())
    assert re.fullmatch(r"[\d.]+ (KB|MB)", frees), f"the dialog says it frees {frees!r}"
    screenshot(page, "8-delete-dialog", full_page=False)
    dialog.get_by_role("button", name="Keep it").click()
    dialog.wait_for(state="hidden")
    assert card(page, jsonl.pk).is_visible()
    assert orm(Dataset.objects.filter(pk=jsonl.pk).exists)

    # Confirmed: the card goes away, here and in the other tab, with no reload; so do the record and files.
    card(page, jsonl.pk).get_by_role("link", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    card(page, jsonl.pk).wait_for(state="detached")
    assert _text(page.locator("#messages").inner_text()).startswith(f"Deleted {jsonl.name}.")
    assert_not_reloaded(page, token)
    card(other, jsonl.pk).wait_for(state="detached")
    assert card(page, csv.pk).is_visible() and card(other, csv.pk).is_visible()
    expect_tab_counts(page, ready=1)
    expect_tab_counts(other, ready=1)
    assert not orm(Dataset.objects.filter(pk=jsonl.pk).exists)
    assert not Path(storage.dataset_dir(jsonl.pk)).exists()
    screenshot(page, "9-datasets-after-delete")

    # From its own page: back to the list, which says so; the other tab's card goes too.
    card(page, csv.pk).locator('a[data-field="name"]').click()
    page.wait_for_url(f"**/datasets/{csv.pk}/")
    page.locator(".page-header").get_by_role("link", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(LIST_URL)
    assert f"“{csv.name}” was deleted." in page.locator("#messages").inner_text()
    page.locator("[data-empty]").wait_for(state="visible")
    card(other, csv.pk).wait_for(state="detached")
    other.locator("[data-empty]").wait_for(state="visible")
    expect_tab_counts(other)
    expect_tab_counts(page)
    assert not orm(Dataset.objects.exists)

    assert not browsing.errors, browsing.errors


def test_a_dataset_created_before_the_live_socket_is_up_gets_its_card(app, browsing, orm, fake_hub, user):
    page = browsing.new_page()
    log_in(page, user.username)
    # Hold the page's next socket before it reaches the server, as a slow connection would.
    held = []
    page.route_web_socket(re.compile(r"/ws/datasets/$"), lambda ws: held.append(ws))
    page.goto("/")
    wait_until(lambda: page.evaluate("() => true") and held, timeout=10, interval=0.1, message="the held socket")
    expect_tab_counts(page)
    dataset = orm(lambda: services.request_download(repos.JSONL, split="test")[0])
    held[0].connect_to_server()
    # Not on the rendered page and not in its counts: the first snapshot brings both.
    wait_for_status(page, orm, dataset.pk, "ready")
    expect_tab_counts(page, ready=1)


def test_images_show_as_thumbnails_and_audio_as_players(app, browsing, orm, fake_hub, user):
    from tests.fakehub import layouts

    layouts.add_layout(fake_hub, "layouts/image-classes")
    layouts.add_layout(fake_hub, "layouts/audio-metadata")
    page = browsing.new_page()
    log_in(page, user.username)
    images, _ = orm(services.request_download, "layouts/image-classes", split="train", owner=user)
    audio, _ = orm(services.request_download, "layouts/audio-metadata", split="train", owner=user)
    for dataset in (images, audio):
        wait_for_status(page, orm, dataset.pk, "ready", timeout=60)

    page.goto(f"/datasets/{images.pk}/")
    page.locator("img.v-image").first.wait_for()
    assert page.locator("img.v-image").count() == 8
    # Every thumbnail really loaded as an image (served from the Arrow files).
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.v-image')].every(img => img.complete && img.naturalWidth > 0)",
        timeout=TIMEOUT_MS,
    )
    screenshot(page, "10-image-thumbnails")

    page.goto(f"/datasets/{audio.pk}/")
    assert page.locator("audio.v-audio").count() == 5
    duration = page.locator("audio.v-audio").first.evaluate(
        """audio => new Promise(resolve => {
            audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
            audio.preload = "metadata";
            audio.load();
        })"""
    )
    assert duration > 0
    screenshot(page, "11-audio-players")
    assert not browsing.errors, browsing.errors


def test_the_download_form_marks_splits_it_cannot_build_and_offers_a_parquet_export(app, browsing, fake_hub, user):
    from tests.fakehub import layouts

    fake_hub.add_repo("layouts/xml", {"data/train.xml": b"<rows><row>1</row></rows>\n"})
    layouts.add_script_repo(fake_hub)
    page = browsing.new_page()
    log_in(page, user.username)
    page.goto("/datasets/new/")

    # A split stored in a format hfdatasets cannot build is shown, with why, and cannot be chosen.
    page.locator("#id_repo_id").press_sequentially("layouts/xml", delay=15)
    page.locator("[data-hub-status][data-state=ok]").wait_for()
    option = page.locator("select#id_split option").first
    assert _text(option.inner_text()).endswith("— cannot be built")
    assert option.is_disabled()
    assert "stored as 'xml'" in option.get_attribute("title")
    assert page.locator("[data-size-summary]").is_hidden()

    # A loading-script repo: the form says so and switches to the Hub's parquet export.
    page.locator("#id_repo_id").fill("")
    page.locator("#id_repo_id").press_sequentially(layouts.SCRIPT_REPO, delay=15)
    page.locator("[data-hub-status][data-state=warning]").wait_for()
    status = _text(page.locator("[data-hub-status]").inner_text())
    assert "loading script (old-style.py)" in status and "Showing its parquet export" in status
    assert page.locator("#id_revision").input_value() == "refs/convert/parquet"
    assert page.locator("select#id_subset option").all_inner_texts() == ["fancy", "plain"]
    screenshot(page, "12-download-form-parquet-export", full_page=False)
    assert not browsing.errors, browsing.errors
