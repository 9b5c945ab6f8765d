// A trader's first start, in real Chromium against the real server running
// the simulated market (the embedded default: no data, no key), accelerated
// (a 15m candle every 1.5 s): the Track Record page has the backtest of the
// simulated history to show from the first start (every strategy's trades,
// BreakoutV2's on the synthetic open interest), every BreakoutV2 row has
// (synthetic) open interest and BreakoutV2 acts, the DetailPanel labels the
// derivatives data synthetic, and the page says nothing about a missing key;
// on a real market's feed without COINALYZE_API_KEY it says once, above the
// table, what BreakoutV2 needs.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, FIXTURES, SCREENSHOTS, tempDir } from "../harness.mjs";

const CONFIG = `[universe]
markets = ["simulated"]
simulated_symbols = 12
accelerate = 600
`;

let server;

before(async () => {
  const dataDir = tempDir("first-start");
  const config = join(dataDir, "quantpro.toml");
  writeFileSync(config, CONFIG);
  // No COINALYZE_API_KEY, whatever the machine has.
  server = await startServer({ dataDir, config, env: { COINALYZE_API_KEY: "" } });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await server?.stop();
});

/** Polls `probe` until it returns a truthy value, at most `ms`. */
async function eventually(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The table's rows as the page shows them. */
async function rows(page) {
  return page.$$eval("tr.signal-row", (trs) =>
    trs.map((tr) => {
      const cells = tr.querySelectorAll("td");
      const reason = tr.querySelector("[data-testid=row-wait-reason]");
      return {
        key: tr.getAttribute("data-key"),
        strategy: cells[2].textContent.trim(),
        action: cells[3].querySelector("span").textContent.trim(),
        reason: reason ? reason.getAttribute("title") : null,
      };
    }),
  );
}

for (const [width, height] of [
  [1440, 900],
  [390, 844],
]) {
  test(`a fresh simulated start shows a non-empty Track Record at ${width}x${height}`, { timeout: 150_000 }, async () => {
    // The backtest of the simulated history is recorded after the first rescan.
    const record = await eventually(
      async () => {
        const res = await fetch(`${server.url}/api/track-record?origin=backtest`);
        if (!res.ok) return null;
        const body = await res.json();
        return body.all.trades > 0 ? body : null;
      },
      120_000,
      "the first start's backtest in the journal",
    );
    const ui = await launchBrowser({ width, height });
    try {
      const { page, errors } = ui;
      await page.goto(server.url + "/track-record?origin=backtest");
      await page.waitForSelector("[data-testid=track-record-page]");
      assert.equal(await page.locator("[data-testid=no-trades]").count(), 0, "no 'no trades' on a first start");
      const trades = await page.locator("[data-testid=trade-row]").count();
      assert.ok(trades > 0, "the trades are listed");
      // The statistics are the journal's: the "All" row counts its trades.
      const stats = await page.$$eval("[data-testid=track-stats] tbody tr", (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td, th")].map((cell) => cell.textContent.trim())),
      );
      const all = stats.find((cells) => cells[0] === "All");
      assert.ok(all, `an "All" row: ${JSON.stringify(stats)}`);
      // (The live loop resolves the backtest's trades still open as the
      // simulated market moves on: the count may have grown since.)
      const later = await (await fetch(`${server.url}/api/track-record?origin=backtest`)).json();
      const shown = Number(all[1]);
      assert.ok(
        shown >= record.all.trades && shown <= later.all.trades,
        `the statistics count the journal's trades: ${shown}, journal ${record.all.trades}..${later.all.trades}`,
      );
      // Every strategy has a history: BreakoutV2 too, on the synthetic open interest.
      for (const strategy of ["Legacy", "Breakout", "BreakoutV2"]) {
        const cells = stats.find((row) => row[0] === strategy);
        assert.ok(Number(cells?.[1]) > 0, `${strategy} has backtest trades: ${JSON.stringify(cells)}`);
      }
      await page.screenshot({ path: join(SCREENSHOTS, `first-start-track-record-${width}.png`) });
      assert.deepEqual(errors, []);
    } finally {
      await ui.browser.close();
    }
  });
}

test("BreakoutV2 acts on the simulated market, on synthetic open interest", { timeout: 180_000 }, async () => {
  const ui = await launchBrowser({ width: 1440, height: 900 });
  try {
    const { page, errors } = ui;
    // The live loop rescans at every simulated 15m close: reload until a
    // BreakoutV2 row acts (a few simulated hours).
    const acting = await eventually(
      async () => {
        await page.goto(server.url + "/");
        await waitForHydration(page);
        const shown = await rows(page);
        const v2 = shown.filter((row) => row.strategy === "BreakoutV2");
        assert.ok(v2.length > 0, "BreakoutV2 rows are shown");
        // Never for want of open interest: the simulated market simulates it.
        assert.deepEqual(
          v2.filter((row) => row.reason === "oi_unavailable"),
          [],
          "no BreakoutV2 row waits for open interest",
        );
        return v2.find((row) => row.action === "LONG" || row.action === "SHORT");
      },
      150_000,
      "a BreakoutV2 row that acts",
    );
    // Nothing is missing, so nothing is said above the table.
    assert.equal(await page.locator("[data-testid=feed-notice]").count(), 0);

    // Its detail labels the derivatives data synthetic.
    await page.click(`tr.signal-row[data-key='${acting.key}']`);
    await page.waitForSelector("[data-testid=detail-panel] [data-testid=data-badge]");
    const badges = await page.locator("[data-testid=detail-panel] [data-testid=data-badge]").allTextContents();
    assert.ok(
      badges.some((text) => /^OI · synthetic$/.test(text.trim())),
      `the OI badge says synthetic: ${badges.join(", ")}`,
    );
    const title = await page
      .locator("[data-testid=detail-panel] [data-testid=data-badge]", { hasText: "OI" })
      .first()
      .getAttribute("title");
    assert.match(title, /synthetic/);
    await page.screenshot({ path: join(SCREENSHOTS, "first-start-breakout-v2.png") });
    assert.deepEqual(errors, []);
  } finally {
    await ui.browser.close();
  }
});

for (const [width, height] of [
  [1440, 900],
  [390, 844],
]) {
  test(`a real market without a Coinalyze key: the table says once what BreakoutV2 needs, at ${width}x${height}`, async () => {
    // A real market's feed and candle folder (no SYNTHETIC marker), no key.
    const real = await startServer({ feed: join(FIXTURES, "feed.json"), env: { COINALYZE_API_KEY: "" } });
    const ui = await launchBrowser({ width, height });
    try {
      const { page, errors } = ui;
      await page.goto(real.url + "/");
      await waitForHydration(page);
      const notice = page.locator("[data-testid=feed-notice]");
      assert.equal(await notice.count(), 1, "said once, not per row");
      assert.match(await notice.textContent(), /^BreakoutV2 needs open interest: set COINALYZE_API_KEY/);
      const noticeBox = await notice.boundingBox();
      const tableBox = await page.locator("[data-testid=scanner-table]").boundingBox();
      assert.ok(noticeBox.y + noticeBox.height <= tableBox.y, "above the table");
      assert.ok(noticeBox.x >= 0 && noticeBox.x + noticeBox.width <= width, "within the screen");
      await page.screenshot({ path: join(SCREENSHOTS, `real-market-no-key-${width}.png`) });
      assert.deepEqual(errors, []);
    } finally {
      await ui.browser.close();
      await real.stop();
    }
  });
}
