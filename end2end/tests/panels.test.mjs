// The dashboard's panels in real Chromium against the real server over a
// generated data set (quantpro demo-data, 30 symbols): a scan started from
// the ExchangePanel with its live progress bar, the data source choice,
// sorting and filtering kept
// in the URL, the detail view with its server-rendered charts, the
// ConfigPanel changing what the next scan does, and the share page with
// JavaScript off. Screenshots go to end2end/screenshots/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, SCREENSHOTS, ROOT, tempDir } from "../harness.mjs";

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SERVER_BIN = process.env.QUANTPRO_BIN ?? join(TARGET_DIR, "debug", "quantpro");
const SYMBOLS = 30;
const STRATEGIES = 3;

let server;
let ui;
let dataDir;

before(async () => {
  dataDir = tempDir("data");
  execFileSync(SERVER_BIN, ["demo-data", "--data-dir", dataDir, "--symbols", String(SYMBOLS)], { stdio: "pipe" });
  server = await startServer({ dataDir, config: join(dataDir, "quantpro.toml") });
  ui = await launchBrowser({ width: 1280, height: 860 });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

async function results() {
  const res = await fetch(server.url + "/api/results");
  assert.equal(res.status, 200);
  return res.json();
}

/** Clicks Scan and resolves with every progress value the bar showed. */
async function scanFromUi(page) {
  await page.waitForSelector("[data-testid='scan-progress'][data-state]:not([data-state='unknown'])");
  await page.evaluate(() => {
    const bar = document.querySelector("[data-testid='scan-progress']");
    window.__progress = [];
    new MutationObserver(() => window.__progress.push([bar.dataset.state, Number(bar.getAttribute("aria-valuenow"))])).observe(
      bar,
      { attributes: true, attributeFilter: ["aria-valuenow", "data-state"] },
    );
  });
  const before = await page.getAttribute("[data-testid='scan-progress']", "data-state");
  await page.click("[data-testid='scan-button']");
  await page.waitForFunction(
    (prev) => {
      const seen = window.__progress ?? [];
      return seen.some(([state]) => state === "running") || (prev !== "finished" && seen.some(([s]) => s === "finished"));
    },
    before,
    { timeout: 30_000 },
  );
  await page.waitForSelector("[data-testid='scan-progress'][data-state='finished'][aria-valuenow='100']", { timeout: 60_000 });
  return page.evaluate(() => window.__progress);
}

function rowTexts(page, column) {
  return page.$$eval(`tr.signal-row td:nth-child(${column})`, (tds) => tds.map((td) => td.textContent.trim()));
}

const num = (text) => (text === "—" ? null : Number(text.replace(/[^0-9.+-]/g, "")));

test("a scan started from the UI shows live progress to 100% and fills the table", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  // No feed yet: the banner says how to create one, the table is empty.
  assert.match(await page.textContent("[data-testid='error-banner']"), /run a scan/);
  assert.equal(await page.locator("tr.empty-row").count(), 1);
  await page.screenshot({ path: join(SCREENSHOTS, "panels-empty-1280.png") });

  const progress = await scanFromUi(page);
  const values = progress.map(([, v]) => v);
  assert.equal(values.at(-1), 100, `progress ended at 100: ${JSON.stringify(progress)}`);
  for (let i = 1; i < values.length; i++) {
    if (progress[i][0] === progress[i - 1][0]) assert.ok(values[i] >= values[i - 1], `progress never goes back: ${values}`);
  }
  const text = await page.textContent("[data-testid='scan-progress-text']");
  assert.match(text, new RegExp(`done · ${SYMBOLS}/${SYMBOLS} symbols · 100% · ${SYMBOLS * STRATEGIES} signals`));

  // The finished job refetched the feed: the table fills without a reload.
  await page.waitForFunction((n) => document.querySelectorAll("tr.signal-row").length === n, SYMBOLS * STRATEGIES);
  assert.equal(await page.locator("[data-testid='error-banner']").count(), 0);
  assert.match(await page.textContent("[data-testid='signal-count']"), new RegExp(`^${SYMBOLS * STRATEGIES} signals$`));
  const feed = await results();
  assert.equal(feed.signals.length, SYMBOLS * STRATEGIES);
  await page.screenshot({ path: join(SCREENSHOTS, "panels-scanned-1280.png") });
  assert.deepEqual(errors, []);
});

test("the ExchangePanel's source filters the table and a scan of one exchange keeps the others' rows", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const everything = await results();
  const exchanges = [...new Set(everything.signals.map((s) => s.exchange))].sort();
  assert.deepEqual(exchanges, ["BINANCE", "HYPERLIQUID", "MEXC"], "the demo set covers every exchange");
  const mexcCount = everything.signals.filter((s) => s.exchange === "MEXC").length;
  assert.ok(mexcCount > 0 && mexcCount < everything.signals.length);

  await page.click("[data-testid='exchange-panel'] button[data-source='MEXC']");
  await page.waitForURL(/ex=MEXC/);
  await page.waitForFunction((n) => document.querySelectorAll("tr.signal-row").length === n, mexcCount);
  assert.deepEqual(new Set(await rowTexts(page, 2)), new Set(["MEXC"]));
  assert.equal(await page.getAttribute("button[data-source='MEXC']", "aria-pressed"), "true");
  assert.equal((await page.textContent("[data-testid='scan-button']")).trim(), "Scan MEXC");

  // The scan covers MEXC only: its progress counts MEXC's symbols ...
  await scanFromUi(page);
  const text = await page.textContent("[data-testid='scan-progress-text']");
  const mexcSymbols = mexcCount / STRATEGIES;
  assert.match(text, new RegExp(`done · ${mexcSymbols}/${mexcSymbols} symbols · 100% · ${mexcCount} signals`));
  // ... and the feed keeps the other exchanges' signals.
  const after = await results();
  assert.equal(after.signals.length, everything.signals.length);
  assert.ok(after.last_updated > everything.last_updated);
  await page.screenshot({ path: join(SCREENSHOTS, "panels-source-mexc-1280.png") });

  await page.click("[data-testid='exchange-panel'] button[data-source='All']");
  await page.waitForURL((url) => !url.searchParams.has("ex"));
  await page.waitForFunction((n) => document.querySelectorAll("tr.signal-row").length === n, everything.signals.length);
  assert.equal((await page.textContent("[data-testid='scan-button']")).trim(), "Scan all");
  assert.deepEqual(errors, []);
});

test("a feed written outside the dashboard (quantpro scan) shows up without a reload, and ages tick", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const before = await results();
  const label = "[data-testid='feed-updated']";
  assert.equal(Number(await page.getAttribute(label, "data-last-updated")), before.last_updated);
  const firstText = await page.textContent(label);
  await page.evaluate(() => (window.__notReloaded = true));

  // The CLI rescans SYN000 (the demo's first asset) into the same feed, as a cron job would.
  execFileSync(SERVER_BIN, ["scan", "--data-dir", dataDir, "--symbol", "SYN000", "--config", join(dataDir, "quantpro.toml")], { stdio: "pipe" });
  const after = await results();
  assert.ok(after.last_updated > before.last_updated);
  assert.equal(after.signals.length, before.signals.length, "the partial scan kept the other signals");
  await page.waitForFunction(
    ([selector, stamp]) => document.querySelector(selector)?.dataset.lastUpdated === String(stamp),
    [label, after.last_updated],
    { timeout: 15_000 },
  );
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "same page, no reload");
  assert.equal(await page.locator("tr.signal-row").count(), after.signals.length);

  // The "feed updated ... ago" label moves on with the clock.
  const fresh = await page.textContent(label);
  await page.waitForFunction(([selector, text]) => document.querySelector(selector)?.textContent !== text, [label, fresh], {
    timeout: 25_000,
  });
  assert.match(await page.textContent(label), /^feed updated \d+s ago$/);
  assert.ok(firstText.startsWith("feed updated "));
  assert.deepEqual(errors, []);
});

test("sorting and filtering rewrite the URL, and the URL restores the view", async () => {
  const { page } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);

  await page.click("th[data-sort='rr']");
  await page.waitForURL(/sort=rr/);
  let rr = (await rowTexts(page, 8)).map(num);
  const defined = rr.filter((v) => v !== null);
  assert.deepEqual(defined, [...defined].sort((a, b) => b - a), "RR descending");
  assert.deepEqual(rr.slice(defined.length), rr.filter((v) => v === null), "rows without RR last");

  await page.click("th[data-sort='rr']");
  await page.waitForURL(/sort=rr&dir=asc/);
  rr = (await rowTexts(page, 8)).map(num).filter((v) => v !== null);
  assert.deepEqual(rr, [...rr].sort((a, b) => a - b), "RR ascending");

  await page.click("th[data-sort='rsi']");
  await page.waitForURL((url) => url.searchParams.get("sort") === "rsi" && !url.searchParams.has("dir"));
  const rsi = (await rowTexts(page, 9)).map(num).filter((v) => v !== null);
  assert.deepEqual(rsi, [...rsi].sort((a, b) => b - a), "RSI descending");

  await page.selectOption("[data-testid='filter-strategy']", "Breakout");
  await page.waitForURL(/strategy=Breakout/);
  assert.deepEqual(new Set(await rowTexts(page, 3)), new Set(["Breakout"]));

  await page.selectOption("[data-testid='filter-bias']", "LONG");
  await page.waitForURL(/bias=LONG/);
  const biases = await rowTexts(page, 6);
  assert.ok(biases.every((b) => b === "LONG"), `only LONG: ${biases}`);

  await page.fill("[data-testid='filter-min-score']", "20");
  await page.press("[data-testid='filter-min-score']", "Enter");
  await page.waitForURL(/min=20/);
  const scores = (await rowTexts(page, 5)).map(num);
  assert.ok(scores.every((s) => s >= 20), `scores >= 20: ${scores}`);
  const filteredUrl = page.url();
  const shown = await page.locator("tr.signal-row").count();
  assert.match(await page.textContent("[data-testid='signal-count']"), new RegExp(`^${shown} of ${SYMBOLS * STRATEGIES} signals$`));
  await page.screenshot({ path: join(SCREENSHOTS, "panels-filtered-1280.png") });

  // The server renders the same view from the URL alone.
  const html = await (await fetch(filteredUrl)).text();
  const feed = await results();
  const expected = feed.signals.filter((s) => s.strategy === "Breakout" && s.bias === "LONG" && s.score >= 20);
  assert.equal((html.match(/class="signal-row/g) ?? []).length, expected.length);

  // Text search, then clearing every filter.
  await page.click("[data-testid='filter-clear']");
  await page.waitForURL((url) => !url.searchParams.has("strategy") && !url.searchParams.has("bias"));
  await page.fill("[data-testid='filter-search']", "syn001");
  await page.waitForURL(/q=syn001/);
  const symbols = await rowTexts(page, 1);
  assert.ok(symbols.length >= 1 && symbols.every((s) => s.toLowerCase().includes("syn001")), `search: ${symbols}`);
});

test("selecting a row opens the detail view with both charts, the setup levels and the calculator", async () => {
  const { page, errors } = ui;
  const feed = await results();
  const signal = feed.signals.find((s) => s.setup && s.observability.rsi_visuals.resistance) ?? feed.signals.find((s) => s.setup);
  const key = `${signal.exchange}:${signal.symbol}:${signal.strategy}`;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  await page.click(`tr.signal-row[data-key='${key}']`);
  await page.waitForURL((url) => url.searchParams.get("sel") === key);
  assert.match(await page.getAttribute(`tr.signal-row[data-key='${key}']`, "class"), /selected/);

  await page.waitForSelector("[data-testid='ltf-chart'] svg");
  await page.waitForSelector("[data-testid='htf-chart'] svg");
  await page.waitForSelector("[data-testid='rsi-chart'] svg");
  assert.equal(await page.textContent("[data-testid='detail-symbol']"), signal.symbol);
  for (const chart of ["ltf-chart", "htf-chart"]) {
    const labels = await page.$$eval(`[data-testid='${chart}'] svg text`, (ts) => ts.map((t) => t.textContent.trim()));
    for (const level of ["Entry", "SL", "TP"]) {
      assert.ok(labels.some((l) => l.startsWith(level + " ")), `${chart} draws the ${level} level: ${labels}`);
    }
  }
  const entryText = await page.textContent("[data-testid='setup-entry']");
  const ltfLabels = await page.$$eval("[data-testid='ltf-chart'] svg text", (ts) => ts.map((t) => t.textContent.trim()));
  assert.ok(ltfLabels.includes(`Entry ${entryText}`), "the chart's entry level is the setup's entry");
  assert.equal(num(await page.textContent("[data-testid='setup-rr']")), Number(signal.setup.rr.toFixed(2)));
  assert.equal(await page.textContent("[data-testid='setup-side']"), signal.setup.side);

  // Score bars and badges of the ObservabilityPanel.
  assert.equal(await page.locator("[data-testid='score-bar']").count(), 4);
  assert.equal(await page.locator("[data-testid='data-badge']").count(), 4);
  assert.equal(await page.locator("[data-testid='filter-badge']").count(), 2);

  // Position size = account × risk% / |entry − SL|.
  await page.fill("[data-testid='calc-account']", "5000");
  await page.fill("[data-testid='calc-risk']", "2");
  const riskPerUnit = Math.abs(signal.setup.entry - signal.setup.sl);
  const size = (5000 * 0.02) / riskPerUnit;
  await page.waitForFunction(() => document.querySelector("[data-testid='calc-risk-amount']").textContent === "100.00");
  const shownSize = num(await page.textContent("[data-testid='calc-size']"));
  assert.ok(Math.abs(shownSize - size) / size < 1e-3, `size ${shownSize} vs ${size}`);
  const notional = num(await page.textContent("[data-testid='calc-notional']"));
  assert.ok(Math.abs(notional - size * signal.setup.entry) < 0.01 + 1e-6 * notional, `notional ${notional}`);

  // No GEMINI_API_KEY on the test server: a clear message, not an error.
  await page.click("[data-testid='ai-button']");
  await page.waitForSelector("[data-testid='ai-message']");
  assert.match(await page.textContent("[data-testid='ai-message']"), /set GEMINI_API_KEY/);

  await page.screenshot({ path: join(SCREENSHOTS, "panels-detail-1280.png"), fullPage: true });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(SCREENSHOTS, "panels-detail-1920.png") });
  // No horizontal overflow of the page at either width.
  for (const width of [1920, 1280]) {
    await page.setViewportSize({ width, height: width === 1920 ? 1080 : 860 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `no horizontal scroll at ${width}px`);
  }
  assert.deepEqual(errors, []);
});

test("arrow keys move the selection through the rows and Esc closes the detail view", async () => {
  const { page } = ui;
  await page.goto(server.url + "/?sort=symbol");
  await waitForHydration(page);
  const keys = await page.$$eval("tr.signal-row", (rows) => rows.map((r) => r.dataset.key));
  await page.keyboard.press("ArrowDown");
  await page.waitForURL((url) => url.searchParams.get("sel") === keys[0]);
  await page.keyboard.press("j");
  await page.waitForURL((url) => url.searchParams.get("sel") === keys[1]);
  await page.waitForSelector(`tr.signal-row.selected[data-key='${keys[1]}']`);
  await page.waitForSelector("[data-testid='detail-symbol']");
  await page.keyboard.press("ArrowUp");
  await page.waitForURL((url) => url.searchParams.get("sel") === keys[0]);
  // Typing in the search box is not navigation.
  await page.focus("[data-testid='filter-search']");
  await page.keyboard.press("ArrowDown");
  await page.waitForTimeout(100);
  assert.equal(new URL(page.url()).searchParams.get("sel"), keys[0]);
  await page.locator("[data-testid='filter-search']").blur();
  await page.keyboard.press("Escape");
  await page.waitForURL((url) => !url.searchParams.has("sel"));
  assert.equal(await page.locator("[data-testid='detail-panel']").count(), 0);
  assert.equal(new URL(page.url()).searchParams.get("sort"), "symbol", "other view parameters kept");
});

test("a threshold changed in the ConfigPanel is saved and used by the next scan", async () => {
  const { page } = ui;
  const before = await results();
  const legacyBelowMin = (feed) =>
    feed.signals.filter((s) => s.strategy === "Legacy" && s.wait_reasons.includes("score_below_min")).length;
  const legacyActions = (feed) => feed.signals.filter((s) => s.strategy === "Legacy" && s.action !== "WAIT").length;

  await page.goto(server.url + "/?panel=config");
  await waitForHydration(page);
  await page.waitForSelector("[data-testid='config-panel'] input[data-key='legacy.min_score']");
  assert.equal(await page.locator("[data-testid='config-input']").count(), 28, "every ScannerConfig field");
  const input = "[data-testid='config-input'][data-key='legacy.min_score']";
  assert.equal(await page.inputValue(input), "60");

  // Client-side validation with the server's bounds.
  await page.fill(input, "150");
  await page.waitForSelector("tr[data-key='legacy.min_score'] [data-testid='config-error']");
  assert.match(await page.textContent("tr[data-key='legacy.min_score'] [data-testid='config-error']"), /between 0 and 100/);
  assert.ok(await page.isDisabled("[data-testid='config-save']"));

  await page.fill(input, "0");
  await page.click("[data-testid='config-save']");
  await page.waitForSelector("[data-testid='config-status']");
  assert.match(await page.textContent("[data-testid='config-status']"), /Saved to .*quantpro\.toml/);
  const saved = await (await fetch(server.url + "/api/config")).json();
  assert.equal(saved.config.legacy.min_score, 0);
  await page.screenshot({ path: join(SCREENSHOTS, "panels-config-1280.png") });

  // The next scan reads it: no Legacy signal waits for its score any more.
  await page.goto(server.url + "/");
  await waitForHydration(page);
  await scanFromUi(page);
  const afterScan = await results();
  assert.equal(legacyBelowMin(afterScan), 0);
  assert.ok(legacyActions(afterScan) >= legacyActions(before));
  if (legacyBelowMin(before) > 0) {
    assert.ok(legacyActions(afterScan) > legacyActions(before) || afterScan.signals.some((s) => s.strategy === "Legacy" && s.wait_reasons.includes("rr_below_min")));
  }
});

test("the share page works with JavaScript off and has Open Graph tags", async () => {
  const feed = await results();
  const signal = feed.signals.find((s) => s.setup) ?? feed.signals[0];
  const path = `/signal/${signal.exchange}/${signal.symbol}/${signal.strategy}`;
  const res = await fetch(server.url + path);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<meta property="og:title" content="[^"]*QuantPro"/);
  assert.match(html, new RegExp(`<meta property="og:description" content="${signal.symbol} on ${signal.exchange}`));

  const noJs = await launchBrowser({ javaScriptEnabled: false, width: 1280, height: 900 });
  try {
    await noJs.page.goto(server.url + path);
    await noJs.page.waitForSelector("[data-testid='share-page']");
    assert.equal(await noJs.page.locator("body[data-hydrated='true']").count(), 0, "static HTML only");
    assert.equal(await noJs.page.locator("[data-testid='share-page'] svg").count(), 3, "15m, 4h and RSI charts");
    if (signal.setup) {
      const entry = await noJs.page.textContent("[data-testid='setup-entry']");
      assert.ok(entry.length > 0);
      const labels = await noJs.page.$$eval("[data-testid='ltf-chart'] svg text", (ts) => ts.map((t) => t.textContent.trim()));
      assert.ok(labels.includes(`Entry ${entry}`));
    }
    assert.equal(await noJs.page.locator("[data-testid='score-bar']").count(), 4);
    await noJs.page.screenshot({ path: join(SCREENSHOTS, "share-nojs-1280.png"), fullPage: true });
  } finally {
    await noJs.browser.close();
  }

  const missing = await fetch(server.url + `/signal/${signal.exchange}/NOSUCHCOIN/${signal.strategy}`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /Signal not found/);
});
