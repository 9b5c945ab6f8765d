// Alerts in real Chromium against the real server running the simulated
// live market, accelerated (a 15m candle every 1.5 s), with one rule on the
// `browser` channel: the open dashboard shows a toast (role="status", with
// its share link and a close button) when the live loop fires an alert, the
// owner's alert log page lists it as delivered to the browser, and the
// ConfigPanel's Alerts section refuses an invalid rule with its field named.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, SCREENSHOTS, tempDir } from "../harness.mjs";

const CONFIG = `[universe]
markets = ["simulated"]
simulated_symbols = 12
accelerate = 600

[[alerts.rules]]
name = "toasts"
channels = ["browser"]
`;

let server;
let ui;
/** The title of the toast the dashboard showed. */
let toastTitle;

before(async () => {
  const dataDir = tempDir("alerts");
  const config = join(dataDir, "quantpro.toml");
  writeFileSync(config, CONFIG);
  server = await startServer({ dataDir, config });
  ui = await launchBrowser({ width: 1280, height: 860 });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

test("the open dashboard shows a toast when the live loop fires an alert", { timeout: 150_000 }, async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/");
  await waitForHydration(page);
  const toast = page.locator("[data-testid=alert-toast]").first();
  // Signals turn within a few simulated hours: a few seconds here.
  await toast.waitFor({ state: "visible", timeout: 120_000 });
  assert.equal(await toast.getAttribute("role"), "status");
  toastTitle = (await toast.locator("strong").textContent()).trim();
  assert.match(toastTitle, /^\S+ (LONG|SHORT) · (Legacy|Breakout|BreakoutV2) · \S+$/);
  const link = await toast.locator("a").getAttribute("href");
  assert.match(link, /\/signal\/[A-Z]+\/[A-Z0-9_]+\/(Legacy|Breakout|BreakoutV2)$/);
  await page.screenshot({ path: join(SCREENSHOTS, "alert-toast.png") });

  // The close button takes it away.
  const shown = await toast.elementHandle();
  await toast.locator("button[aria-label=Close]").click();
  await page.waitForFunction((el) => !el.isConnected, shown);
  // This machine is the owner (no password set): the alert log is linked.
  assert.equal(await page.locator("[data-testid=alert-log-link]").getAttribute("href"), "/alerts");
  assert.deepEqual(errors, []);
});

test("the owner's alert log lists the alert as delivered to the browser", async () => {
  assert.ok(toastTitle, "the toast test ran first");
  const { page } = ui;
  await page.goto(server.url + "/alerts");
  const row = page.locator("[data-testid=alert-log-row]", { hasText: toastTitle }).first();
  await row.waitFor({ state: "visible" });
  const cells = await row.locator("td").allTextContents();
  assert.match(cells[0], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/, "the time");
  assert.equal(cells[1], "toasts", "the rule");
  assert.match(cells[3], /browser delivered /, "the channel and its outcome");
});

test("the ConfigPanel's Alerts section refuses an invalid rule with its field", async () => {
  const { page } = ui;
  await page.goto(server.url + "/?panel=config");
  await waitForHydration(page);
  const text = page.locator("[data-testid=alerts-toml]");
  await text.waitFor({ state: "visible" });
  const saved = await text.inputValue();
  assert.match(saved, /name = "toasts"/);
  await text.fill(saved.replace('name = "toasts"', 'name = "toasts"\nmin_rr = -1'));
  await page.locator("[data-testid=alerts-save]").click();
  const status = page.locator("[data-testid=alerts-status]");
  await status.waitFor({ state: "visible" });
  assert.match(await status.textContent(), /'alerts\.rules\[0\]\.min_rr' must be 0 or more, got -1/);
  const config = await (await fetch(server.url + "/api/alerts")).json();
  assert.ok(Array.isArray(config.entries), "the server kept running");
});
