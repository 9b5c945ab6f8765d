// A paper trade in real Chromium against the real server running the
// simulated live market (a 15m candle every 15 s): the owner (this machine,
// no password) opens an actionable signal's detail, follows its "Trade…"
// link to the server-rendered ticket, confirms the dialog that repeats the
// numbers, and lands on the Positions page with the position listed; the
// kill switch then leaves it empty. A viewer never sees the link (the
// route table test covers the 401/403 of every trading route).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, SCREENSHOTS, tempDir } from "../harness.mjs";

const CONFIG = `[universe]
markets = ["simulated"]
simulated_symbols = 12
accelerate = 60
`;

let server;
let ui;

before(async () => {
  const dataDir = tempDir("trading");
  const config = join(dataDir, "quantpro.toml");
  writeFileSync(config, CONFIG);
  server = await startServer({ dataDir, config });
  ui = await launchBrowser({ width: 1440, height: 900 });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

/** An actionable, fresh signal of the feed, once the first scan wrote one. */
async function actionableSignal() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(server.url + "/api/results");
    if (res.ok) {
      const feed = await res.json();
      const found = feed.signals.find((s) => s.action !== "WAIT" && s.setup && !s.ltf.stale);
      if (found) return found;
    }
    if (Date.now() > deadline) throw new Error("no actionable signal on the simulated market");
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("the owner places a paper bracket from the ticket and sees it in Positions", { timeout: 120_000 }, async () => {
  const { page, errors } = ui;
  const signal = await actionableSignal();
  const key = `${signal.exchange}:${signal.symbol}:${signal.strategy}`;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  await page.click(`tr.signal-row[data-key='${key}']`);
  const link = page.locator("[data-testid=trade-link]");
  await link.waitFor({ state: "visible", timeout: 30_000 });
  await link.click();
  await page.waitForSelector("[data-testid=trade-ticket]");
  assert.equal((await page.textContent("[data-testid=trade-mode]")).trim(), "PAPER");
  const ticket = await page.textContent("[data-testid=trade-ticket]");
  assert.match(ticket, /Risk/);
  assert.match(ticket, /Limits/);
  await page.screenshot({ path: join(SCREENSHOTS, "trade-ticket.png") });

  let question = "";
  page.once("dialog", async (dialog) => {
    question = dialog.message();
    await dialog.accept();
  });
  await page.click("[data-testid=place-trade]");
  await page.waitForURL(/\/positions$/, { timeout: 30_000 }).catch(async () => {
    throw new Error("not placed: " + (await page.textContent("[data-testid=trade-result]")));
  });
  assert.match(question, /^PAPER (LONG|SHORT) /, "the confirmation repeats the numbers");
  assert.match(question, /stop .*target .*risk/);
  const row = page.locator("[data-testid=position-row]");
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), new RegExp(signal.symbol));
  // Each leg's state at the venue: the entry filled, the stop and target rest.
  assert.match(await row.locator("[data-testid=legs]").textContent(), /^entry filled \S+ at \S+ · stop open · target open$/);
  await page.screenshot({ path: join(SCREENSHOTS, "positions.png") });

  page.once("dialog", (dialog) => dialog.accept());
  await page.click("[data-testid=kill-switch]");
  await page.waitForSelector("[data-testid=no-positions]", { timeout: 30_000 });
  assert.deepEqual(errors, []);
});
