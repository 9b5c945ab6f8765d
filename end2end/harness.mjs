// Starts the real quantpro server on a free 127.0.0.1 port and launches
// Debian's Chromium through playwright-core (browsers cannot be downloaded
// here). Every test gets its own server so fixtures don't leak between tests.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const FIXTURES = join(ROOT, "end2end", "fixtures");

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SERVER_BIN = process.env.QUANTPRO_BIN ?? join(TARGET_DIR, "debug", "quantpro");
const SITE_ROOT = process.env.QUANTPRO_SITE_ROOT ?? join(ROOT, "target", "site");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const madeDirs = [];

/** A temporary folder of this test file, removed when its process exits. */
export function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `quantpro-e2e-${name}-`));
  madeDirs.push(dir);
  return dir;
}

process.on("exit", () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts `quantpro serve`; options: feed (path), dataDir, config, env. */
export async function startServer({ feed, dataDir, config, env = {} } = {}) {
  if (!existsSync(SERVER_BIN)) throw new Error(`server binary not found at ${SERVER_BIN}: run 'cargo leptos build' first`);
  if (!existsSync(join(SITE_ROOT, "pkg"))) throw new Error(`site not built at ${SITE_ROOT}: run 'cargo leptos build' first`);
  const port = await freePort();
  const work = tempDir("server");
  const args = ["serve", "--data-dir", dataDir ?? work, "--config", config ?? join(work, "quantpro.toml")];
  if (feed) args.push("--feed", feed);
  const child = spawn(SERVER_BIN, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: SITE_ROOT,
      LEPTOS_OUTPUT_NAME: "quantpro",
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not answer within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    work,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

export async function launchBrowser({ javaScriptEnabled = true, width = 1280, height = 800 } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Hydration warnings fail a test as errors do: Leptos warns of what can
  // break hydration (a resource read outside <Suspense/>, a mismatch).
  page.on("console", (message) => {
    if (message.type() === "warning" && /hydrat|Suspense/i.test(message.text())) errors.push(message.text());
  });
  return { browser, page, errors };
}

/** Waits until the WASM app has hydrated the page (the app marks <body>). */
export async function waitForHydration(page) {
  await page.waitForSelector("body[data-hydrated='true']", { timeout: 30_000 });
}

export const SCREENSHOTS = join(ROOT, "end2end", "screenshots");
