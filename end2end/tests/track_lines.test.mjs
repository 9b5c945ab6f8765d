// The track line of each ScannerTable row, in real Chromium against the
// real server: a generated data set (quantpro demo-data) whose journal was
// filled by `quantpro backtest --journal`, then scanned by the CLI. A row
// whose strategy has trades shows "<Strategy> on <SYMBOL>: ... · all
// symbols: ..." on a line of its own under it, with the figures of
// GET /api/track-record and the words of the DetailPanel; clicking the line
// selects its row; on a phone the line wraps under the compact row without
// making the page scroll sideways. Screenshots go to end2end/screenshots/.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, SCREENSHOTS, ROOT, tempDir } from "../harness.mjs";

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SERVER_BIN = process.env.QUANTPRO_BIN ?? join(TARGET_DIR, "debug", "quantpro");
/** Thresholds low enough for the generated market to open trades in the replay. */
const FIRING = {
  QUANTPRO_LEGACY__MIN_SCORE: "20",
  QUANTPRO_BREAKOUT__MIN_SCORE: "20",
  QUANTPRO_SETUP__MIN_RR: "0.5",
};

let server;

before(async () => {
  const dataDir = tempDir("track");
  const config = join(dataDir, "quantpro.toml");
  const run = (args, env = {}) => execFileSync(SERVER_BIN, args, { stdio: "pipe", env: { ...process.env, ...env } });
  run(["demo-data", "--data-dir", dataDir, "--symbols", "12"]);
  run(["backtest", "--data-dir", dataDir, "--config", config, "--out", join(dataDir, "report.json"), "--journal"], FIRING);
  run(["scan", "--data-dir", dataDir, "--config", config]);
  server = await startServer({ dataDir, config });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await server?.stop();
});

async function onPage(size, body) {
  const ui = await launchBrowser(size);
  try {
    await body(ui.page);
    assert.deepEqual(ui.errors, []);
  } finally {
    await ui.browser.close();
  }
}

/** The first row that has a track line: its key and the line's text. */
async function firstTrackedRow(page) {
  await page.waitForSelector("tr.signal-row.with-track + tr.track-row");
  return page.$eval("tr.signal-row.with-track", (row) => ({
    key: row.dataset.key,
    symbol: row.querySelector("td.symbol").textContent,
    strategy: row.querySelector("td:nth-child(3)").textContent,
    line: row.nextElementSibling.textContent,
    lineKey: row.nextElementSibling.dataset.keyOf,
  }));
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const STATS = String.raw`(no closed trade|\d+ trades?, \d+% win, [+-]\d+\.\d\d R avg)( \(\d+ open\))?`;

test("each row shows its strategy's track record on its symbol and overall", async () => {
  await onPage({ width: 1280, height: 860 }, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    const row = await firstTrackedRow(page);
    assert.equal(row.lineKey, row.key, "the line sits right under its own row");
    assert.match(row.line, new RegExp(`^${escape(row.strategy)} on ${escape(row.symbol)}: ${STATS} · all symbols: ${STATS}$`));

    // The figures are the journal's, as GET /api/track-record gives them.
    const record = await (await fetch(`${server.url}/api/track-record?strategy=${row.strategy}`)).json();
    const overall = row.line.split(" · all symbols: ")[1];
    if (record.all.trades > 0) {
      assert.ok(overall.startsWith(`${record.all.trades} trade`), `${overall} vs ${record.all.trades} closed trades`);
      assert.ok(overall.includes(`${Math.round(record.all.win_rate * 100)}% win`), overall);
    } else {
      assert.ok(overall.startsWith("no closed trade"), overall);
    }

    // The line is part of its row: clicking it selects the signal, whose
    // DetailPanel says the same.
    await page.click(`tr.track-row[data-key-of='${row.key}']`);
    await page.waitForURL((url) => url.searchParams.get("sel") === row.key);
    await page.waitForSelector("[data-testid='detail-panel'] [data-testid='track-line']");
    const detail = await page.textContent("[data-testid='detail-panel'] [data-testid='track-line']");
    assert.ok(detail.includes(row.line), `${detail} vs ${row.line}`);
    assert.match(await page.getAttribute(`tr.track-row[data-key-of='${row.key}']`, "class"), /selected/);
    await page.screenshot({ path: join(SCREENSHOTS, "track-lines-1280.png") });
  });
});

test("on a phone the track line wraps under the compact row", async () => {
  const width = 390;
  await onPage({ width, height: 844 }, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    const row = await firstTrackedRow(page);
    const boxes = await page.$eval(`tr.signal-row[data-key='${row.key}']`, (tr) => {
      const box = (el) => el.getBoundingClientRect().toJSON();
      return { row: box(tr), line: box(tr.nextElementSibling), size: parseFloat(getComputedStyle(tr.nextElementSibling.cells[0]).fontSize) };
    });
    assert.ok(boxes.line.top >= boxes.row.bottom - 1, `the line is under the row: ${JSON.stringify(boxes)}`);
    assert.ok(boxes.line.left >= 0 && boxes.line.right <= width, `the line fits the screen: ${JSON.stringify(boxes.line)}`);
    assert.ok(boxes.line.height > 0 && boxes.size >= 12, `readable: ${boxes.size}px`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page does not scroll sideways (${overflow} px)`);
    await page.screenshot({ path: join(SCREENSHOTS, "track-lines-390.png") });
  });
});

test("the Track Record page opens from the dashboard, filters by strategy and links each trade", async () => {
  await onPage({ width: 1280, height: 860 }, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    // A full page load (rel="external"): the page is rendered whole on the
    // server, the app's router has no route for it.
    await page.click("[data-testid='track-record-link']");
    await page.waitForSelector("[data-testid='track-record-page']");
    assert.equal(new URL(page.url()).pathname, "/track-record");
    const strategies = await page.$$eval("[data-testid='track-stats'] [data-strategy]", (rows) => rows.map((r) => r.dataset.strategy));
    for (const s of ["Legacy", "Breakout", "BreakoutV2"]) assert.ok(strategies.includes(s), `${s} in ${strategies}`);
    assert.ok((await page.$$("[data-testid='trade-row']")).length > 0, "the backtest's trades are listed");

    // The filter form narrows the trades to one strategy, as the API counts them.
    await page.selectOption("[data-testid='track-filters'] select[name='strategy']", "Breakout");
    await Promise.all([page.waitForURL((url) => url.searchParams.get("strategy") === "Breakout"), page.click("[data-testid='track-filters'] button[type='submit']")]);
    const rows = await page.$$eval("[data-testid='trade-row']", (trs) => trs.map((tr) => tr.querySelector("a[href^='/signal/']")?.getAttribute("href")));
    const record = await (await fetch(`${server.url}/api/track-record?strategy=Breakout`)).json();
    assert.equal(rows.length, Math.min(50, record.all.trades + record.all.open));
    for (const href of rows) assert.match(href, /^\/signal\/[A-Z]+\/[A-Z0-9_]+\/Breakout$/);
    await page.screenshot({ path: join(SCREENSHOTS, "track-record-1280.png") });

    // A trade's link opens its share page.
    if (rows.length > 0) {
      await page.click(`a[href='${rows[0]}']`);
      await page.waitForSelector("[data-testid='track-line']");
    }
  });
});
