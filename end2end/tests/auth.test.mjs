// Access control in real Chromium: with an owner password set (by the real
// `quantpro set-password`, reading standard input), a visitor sees the
// dashboard read-only with a Sign in link; signing in through the
// server-rendered form gives the owner's controls, an action from the
// hydrated page (the ConfigPanel's Save, a server-function call with the
// session's CSRF token) goes through, and Sign out makes the page read-only
// again. Also: the built browser bundle (target/site/pkg) holds no secret.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, FIXTURES, SCREENSHOTS, ROOT, tempDir } from "../harness.mjs";

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SERVER_BIN = process.env.QUANTPRO_BIN ?? join(TARGET_DIR, "debug", "quantpro");
const SITE_ROOT = process.env.QUANTPRO_SITE_ROOT ?? join(ROOT, "target", "site");
const PASSWORD = "e2e owner password 42";
const TOKEN = "e2e-owner-token-0123456789abcdef";

let server;
let ui;
let config;

before(async () => {
  const work = tempDir("auth");
  config = join(work, "quantpro.toml");
  const printed = execFileSync(SERVER_BIN, ["set-password", "--config", config], {
    input: PASSWORD + "\n",
    encoding: "utf8",
    env: { ...process.env, RUST_LOG: "warn" },
  });
  assert.match(printed, /Owner password set/);
  assert.doesNotMatch(printed, /\$argon2/, "the hash is not printed");
  server = await startServer({ feed: join(FIXTURES, "feed.json"), config, env: { QUANTPRO_OWNER_TOKEN: TOKEN } });
  ui = await launchBrowser();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

test("set-password stores an argon2 hash under [auth], never the password", () => {
  const text = readFileSync(config, "utf8");
  assert.match(text, /\[auth\]\s*\npassword_hash = "\$argon2id\$v=19\$/);
  assert.ok(!text.includes(PASSWORD));
});

test("a visitor reads the dashboard; the owner signs in, acts, and signs out", async () => {
  const { page, errors } = ui;
  await page.goto(server.url + "/?panel=config");
  await waitForHydration(page);
  await page.waitForSelector("tr.signal-row");
  assert.ok(await page.isDisabled("[data-testid='scan-button']"), "a viewer cannot scan");
  await page.waitForSelector("[data-testid='config-read-only']");
  assert.ok(await page.isDisabled("[data-testid='config-save']"), "nor save the configuration");
  await page.screenshot({ path: join(SCREENSHOTS, "auth-viewer-1280.png") });

  // The open ConfigPanel covers the top bar: its own "sign in" link leaves
  // the app for the server-rendered form, as the top bar's Sign in does.
  assert.equal(await page.getAttribute("[data-testid='sign-in']", "href"), "/login");
  await page.click("[data-testid='config-sign-in']");
  await page.waitForSelector("[data-testid='sign-in-form']");
  await page.fill("[data-testid='password']", "not the password");
  await page.click("[data-testid='sign-in-submit']");
  await page.waitForSelector("[data-testid='sign-in-message']");
  assert.match(await page.textContent("[data-testid='sign-in-message']"), /Wrong password/);
  await page.fill("[data-testid='password']", PASSWORD);
  await page.click("[data-testid='sign-in-submit']");
  await page.waitForURL(server.url + "/");
  await waitForHydration(page);
  await page.waitForSelector("[data-testid='sign-out']");
  assert.ok(!(await page.isDisabled("[data-testid='scan-button']")), "the owner can scan");

  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "quantpro_session");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie.includes("quantpro_session")), false, "no script reads it");

  // An action from the hydrated page: the ConfigPanel's Save.
  await page.goto(server.url + "/?panel=config");
  await waitForHydration(page);
  const input = "[data-testid='config-input'][data-key='legacy.min_score']";
  await page.waitForSelector(input);
  assert.equal(await page.locator("[data-testid='config-read-only']").count(), 0);
  await page.fill(input, "61");
  await page.click("[data-testid='config-save']");
  await page.waitForSelector("[data-testid='config-status']");
  assert.match(await page.textContent("[data-testid='config-status']"), /Saved to/);
  const saved = await (await fetch(server.url + "/api/config")).json();
  assert.equal(saved.config.legacy.min_score, 61);
  const html = await page.content();
  for (const secret of [PASSWORD, TOKEN, "$argon2"]) assert.ok(!html.includes(secret), "no secret in the page");
  await page.screenshot({ path: join(SCREENSHOTS, "auth-owner-1280.png") });

  // Back on the dashboard without the drawer (it covers the top bar's right end).
  await page.goto(server.url + "/");
  await waitForHydration(page);
  await page.click("[data-testid='sign-out']");
  await page.waitForURL(server.url + "/");
  await waitForHydration(page);
  await page.waitForSelector("[data-testid='sign-in']");
  assert.ok(await page.isDisabled("[data-testid='scan-button']"), "read-only again");
  assert.equal((await page.context().cookies()).some((c) => c.name === "quantpro_session"), false);
  assert.deepEqual(errors, []);
});

test("scripts act with the owner token; without it they are told how", async () => {
  const refused = await fetch(server.url + "/api/config", { method: "PUT", body: "{}", headers: { "content-type": "application/json" } });
  assert.equal(refused.status, 401);
  assert.match((await refused.json()).error, /sign in at \/login, or send `Authorization: Bearer <token>`/);
  const accepted = await fetch(server.url + "/api/config", {
    method: "PUT",
    body: "{}",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(accepted.status, 200);
});

test("the browser bundle holds no secret and no server-side credential code", () => {
  const pkg = join(SITE_ROOT, "pkg");
  assert.ok(existsSync(pkg), `built site at ${pkg}`);
  const files = readdirSync(pkg).filter((f) => /\.(wasm|js)$/.test(f));
  assert.ok(files.some((f) => f.endsWith(".wasm")), "the WASM module is there");
  // Values of this machine's secrets (environment and .env), if any, and
  // the markers of server-only credential handling.
  const dotenv = existsSync(join(ROOT, ".env")) ? readFileSync(join(ROOT, ".env"), "utf8") : "";
  const fromDotenv = (name) => dotenv.match(new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=\\s*["']?([^"'\\s#]+)`, "m"))?.[1];
  const names = ["GEMINI_API_KEY", "COINALYZE_API_KEY", "COINGECKO_API_KEY", "QUANTPRO_OWNER_TOKEN"];
  const values = names.flatMap((n) => [process.env[n], fromDotenv(n)]).filter((v) => v && v.length >= 8);
  const markers = ["$argon2", "password_hash", "QUANTPRO_OWNER_TOKEN", "quantpro_session", PASSWORD, TOKEN];
  for (const file of files) {
    const bytes = readFileSync(join(pkg, file)).toString("latin1");
    for (const secret of [...values, ...markers]) {
      assert.ok(!bytes.includes(secret), `${file} contains ${secret.slice(0, 6)}…`);
    }
  }
});
