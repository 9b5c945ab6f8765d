// The dashboard shell: server-side rendering, hydration, feed rows and the
// error banner for a missing or corrupt feed.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, FIXTURES, SCREENSHOTS } from "../harness.mjs";

const fixture = JSON.parse(readFileSync(join(FIXTURES, "feed.json"), "utf8"));
let server;
let ui;

before(async () => {
  server = await startServer({ feed: join(FIXTURES, "feed.json") });
  ui = await launchBrowser();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

test("the page is rendered on the server with every fixture row", async () => {
  const res = await fetch(server.url + "/");
  assert.equal(res.status, 200);
  const html = await res.text();
  for (const signal of fixture.signals) {
    assert.ok(html.includes(`data-key="${signal.exchange}:${signal.symbol}:${signal.strategy}"`), `row of ${signal.symbol} in SSR HTML`);
  }
  assert.match(html, /4 signals/);
  assert.match(html, /\/pkg\/quantpro\.js/, "hydration script is linked");
});

test("the browser shows the fixture rows: LONG and SHORT first, each group by score", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const symbols = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  const waits = (s) => (s.action === "WAIT" ? 1 : 0);
  const expected = [...fixture.signals]
    .sort((a, b) => waits(a) - waits(b) || b.score - a.score)
    .map((s) => s.symbol);
  assert.deepEqual(symbols, expected);
  await page.screenshot({ path: join(SCREENSHOTS, "dashboard-1280.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a WAIT row says why in words, and the Action filter keeps the signals that act", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const reason = page.locator("tr.signal-row", { hasText: "SOLUSDT" }).locator("[data-testid='row-wait-reason']");
  assert.equal(await reason.textContent(), "score below minimum");
  assert.equal(await reason.getAttribute("title"), "score_below_min", "the code stays in the tooltip");
  const long = page.locator("tr.signal-row", { hasText: "BTCUSDT" });
  assert.equal(await long.locator("[data-testid='row-wait-reason']").count(), 0, "a LONG has no reason to wait");

  await page.selectOption("[data-testid='filter-action']", "actionable");
  await page.waitForURL(/act=actionable/);
  const acting = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  const expected = fixture.signals
    .filter((s) => s.action !== "WAIT")
    .sort((a, b) => b.score - a.score)
    .map((s) => s.symbol);
  assert.deepEqual(acting, expected);
  await page.selectOption("[data-testid='filter-action']", "wait");
  await page.waitForURL(/act=wait/);
  const waiting = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(new Set(waiting), new Set(fixture.signals.filter((s) => s.action === "WAIT").map((s) => s.symbol)));
  // The server renders the same filtered view from the URL alone.
  const html = await (await fetch(page.url())).text();
  assert.ok(!html.includes('data-key="BINANCE:BTCUSDT:Legacy"'), "a LONG is filtered out on the server too");
  assert.deepEqual(errors, []);
});

test("at 1440x900 the detail of a clicked row opens beside the table, in view", async () => {
  const wide = await launchBrowser({ width: 1440, height: 900 });
  try {
    await wide.page.goto(server.url + "/");
    await waitForHydration(wide.page);
    await wide.page.locator("tr.signal-row", { hasText: "SOLUSDT" }).click();
    const panel = wide.page.locator(".side-panel");
    await panel.waitFor();
    const box = await panel.boundingBox();
    const table = await wide.page.locator(".table-wrap").boundingBox();
    assert.ok(box.y < 900 - 200, `the panel starts in view (y = ${box.y})`);
    assert.ok(box.x >= table.x + table.width - 1, "beside the table, not below it");
    await wide.page.screenshot({ path: join(SCREENSHOTS, "detail-1440x900.png") });
    assert.deepEqual(wide.errors, []);
  } finally {
    await wide.browser.close();
  }
});

test("after hydration, clicks sort the table and select a row", async () => {
  const { page } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const before = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  await page.click("th:has-text('Symbol')");
  const ascending = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(ascending, [...ascending].sort());
  assert.notDeepEqual(ascending, before, "the click re-ordered the rows");
  await page.click("th:has-text('Symbol')");
  const descending = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(descending, [...ascending].reverse());

  const row = page.locator("tr.signal-row", { hasText: "SOLUSDT" });
  await row.click();
  assert.match(await row.getAttribute("class"), /selected/);
});

test("a corrupt feed gives an error banner and an empty table, not a 500", async () => {
  const bad = await startServer({ feed: join(FIXTURES, "corrupt_feed.json") });
  try {
    const res = await fetch(bad.url + "/");
    assert.equal(res.status, 200);
    const { page } = ui;
    await page.goto(bad.url + "/");
    await waitForHydration(page);
    const banner = await page.textContent("[data-testid='error-banner']");
    assert.match(banner, /corrupt/);
    assert.equal(await page.locator("tr.signal-row").count(), 0);
    assert.equal(await page.locator("tr.empty-row").count(), 1);
  } finally {
    await bad.stop();
  }
});

test("a missing feed says how to create one", async () => {
  const missing = await startServer({ feed: join(server.work, "does-not-exist.json") });
  try {
    const html = await (await fetch(missing.url + "/")).text();
    assert.match(html, /No master feed at/);
    assert.match(html, /run a scan/);
  } finally {
    await missing.stop();
  }
});
