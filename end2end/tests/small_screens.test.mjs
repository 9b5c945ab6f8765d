// The dashboard and the share page on a phone (390 x 844) and a tablet
// (768 x 1024), in real Chromium against the real server over a generated
// data set (quantpro demo-data, scanned by the CLI): nothing sticks out of
// the viewport sideways, no two visible controls overlap (their bounding
// boxes), controls are at least 40 px for touch, the table's key columns
// are on screen, the phone's folded filters, compact rows, "All columns"
// and full-screen detail view work, and the share page's header reads
// without wrapping a fact. At 1280 px the phone-only controls stay hidden
// and the table keeps its one-line rows. Screenshots go to
// end2end/screenshots/ (small-*.png).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startServer, launchBrowser, waitForHydration, SCREENSHOTS, ROOT, tempDir } from "../harness.mjs";

const TARGET_DIR = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
const SERVER_BIN = process.env.QUANTPRO_BIN ?? join(TARGET_DIR, "debug", "quantpro");
const PHONE = { width: 390, height: 844 };
const TABLET = { width: 768, height: 1024 };
/** The smallest touch target (px) on narrow screens. */
const TOUCH = 40;
/** Cells of a table row that must be on screen at any width: symbol, action, score, bias. */
const KEY_COLUMNS = { symbol: 1, action: 4, score: 5, bias: 6 };

let server;
let feed;

before(async () => {
  const dataDir = tempDir("small");
  const config = join(dataDir, "quantpro.toml");
  execFileSync(SERVER_BIN, ["demo-data", "--data-dir", dataDir, "--symbols", "30"], { stdio: "pipe" });
  execFileSync(SERVER_BIN, ["scan", "--data-dir", dataDir, "--config", config], { stdio: "pipe" });
  server = await startServer({ dataDir, config });
  feed = await (await fetch(server.url + "/api/results")).json();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await server?.stop();
});

/** A signal with a setup (so the share page has levels), preferably not WAIT. */
function sharedSignal() {
  return feed.signals.find((s) => s.setup && s.action !== "WAIT") ?? feed.signals.find((s) => s.setup);
}

/**
 * Layout problems of the page, measured in the browser. `root` limits the
 * controls looked at to one layer (the full-screen detail view or a drawer
 * covers the page behind it). Returns the elements that stick out of the
 * viewport sideways (an element inside a scrolling or clipping box counts
 * only through that box), the pairs of visible controls whose boxes
 * overlap, and the controls smaller than `minTarget` px.
 */
function layoutProblems(page, { root = "body", minTarget = 0 } = {}) {
  return page.evaluate(
    ({ root, minTarget }) => {
      const width = document.documentElement.clientWidth;
      const name = (el) => {
        const id = el.dataset.testid ?? el.dataset.source ?? el.dataset.sort ?? el.dataset.key;
        const cls = typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "";
        return `${el.tagName.toLowerCase()}${cls}${id ? `[${id}]` : ""} "${(el.textContent ?? "").trim().slice(0, 24)}"`;
      };
      const clips = (el) => {
        const style = getComputedStyle(el);
        return style.overflowX !== "visible" || style.overflowY !== "visible";
      };
      // The part of el's box that is not cut off by a clipping ancestor.
      const visibleBox = (el) => {
        let box = el.getBoundingClientRect();
        let { left, top, right, bottom } = box;
        for (let up = el.parentElement; up && up !== document.documentElement; up = up.parentElement) {
          if (!clips(up)) continue;
          const r = up.getBoundingClientRect();
          left = Math.max(left, r.left);
          top = Math.max(top, r.top);
          right = Math.min(right, r.right);
          bottom = Math.min(bottom, r.bottom);
        }
        return { left, top, right, bottom, width: right - left, height: bottom - top };
      };
      const shown = (el) => {
        if (el.getClientRects().length === 0) return false;
        const style = getComputedStyle(el);
        return style.visibility === "visible" && Number(style.opacity) > 0;
      };
      const insideClip = (el) => {
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) if (clips(up)) return true;
        return false;
      };

      const overflow = [];
      for (const el of document.body.querySelectorAll("*")) {
        if (!shown(el) || insideClip(el)) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -0.5 || r.right > width + 0.5) overflow.push(`${name(el)} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
      }

      const selector = "button, a[href], select, input, textarea, th.sortable, tr.signal-row";
      const controls = [...document.querySelector(root).querySelectorAll(selector)]
        .filter(shown)
        .map((el) => ({ el, box: visibleBox(el) }))
        .filter(({ box }) => box.width > 0.5 && box.height > 0.5);
      const overlaps = [];
      for (let i = 0; i < controls.length; i++) {
        for (let j = i + 1; j < controls.length; j++) {
          const [a, b] = [controls[i], controls[j]];
          if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
          const w = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
          const h = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
          if (w > 1 && h > 1) overlaps.push(`${name(a.el)} x ${name(b.el)} (${Math.round(w)}x${Math.round(h)} px)`);
        }
      }
      const small = controls
        .filter(({ el, box }) => {
          // Only what is fully on screen: a box cut by its scroller is measured once scrolled to.
          const r = el.getBoundingClientRect();
          const whole = Math.abs(r.width - box.width) < 1 && Math.abs(r.height - box.height) < 1;
          return whole && (r.width < minTarget - 0.5 || r.height < minTarget - 0.5);
        })
        .map(({ el }) => {
          const r = el.getBoundingClientRect();
          return `${name(el)} ${Math.round(r.width)}x${Math.round(r.height)}`;
        });
      return {
        pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        overflow,
        overlaps,
        small,
      };
    },
    { root, minTarget },
  );
}

async function assertCleanLayout(page, label, options = {}) {
  const problems = await layoutProblems(page, { minTarget: TOUCH, ...options });
  assert.equal(problems.pageOverflow, 0, `${label}: the page scrolls sideways by ${problems.pageOverflow} px`);
  assert.deepEqual(problems.overflow, [], `${label}: elements outside the viewport`);
  assert.deepEqual(problems.overlaps, [], `${label}: overlapping controls`);
  assert.deepEqual(problems.small, [], `${label}: controls under ${TOUCH} px`);
}

/** Boxes (viewport coordinates, clipped by scrollers) of the key cells of the first `n` rows. */
function keyCells(page, n) {
  return page.evaluate(
    ({ n, columns }) => {
      const width = document.documentElement.clientWidth;
      return [...document.querySelectorAll("tr.signal-row")].slice(0, n).map((row) => {
        const cells = {};
        for (const [key, column] of Object.entries(columns)) {
          const td = row.querySelector(`td:nth-child(${column})`);
          const r = td.getBoundingClientRect();
          const wrap = row.closest(".table-wrap").getBoundingClientRect();
          cells[key] = {
            text: td.textContent.trim(),
            onScreen: r.width > 0 && r.left >= Math.max(0, wrap.left) - 0.5 && r.right <= Math.min(width, wrap.right) + 0.5,
            // The text is not cut off (ellipsis or a cell narrower than its content).
            whole: td.scrollWidth <= td.clientWidth + 1,
          };
        }
        return cells;
      });
    },
    { n, columns: KEY_COLUMNS },
  );
}

async function assertKeyColumnsVisible(page, label) {
  const rows = await keyCells(page, 8);
  assert.ok(rows.length > 0, `${label}: rows shown`);
  for (const cells of rows) {
    for (const [key, cell] of Object.entries(cells)) {
      assert.ok(cell.text.length > 0, `${label}: ${key} has text`);
      assert.ok(cell.onScreen, `${label}: ${key} "${cell.text}" is on screen without scrolling sideways`);
      assert.ok(cell.whole, `${label}: ${key} "${cell.text}" is not cut off`);
    }
  }
}

const isVisible = (page, selector) => page.locator(selector).first().isVisible();

/** Runs `check(page)` in a fresh browser of this viewport size; the page must log no error. */
async function onPage(size, check) {
  const { browser, page, errors } = await launchBrowser(size);
  try {
    await check(page);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
}

for (const size of [PHONE, TABLET]) {
  const tag = String(size.width);
  const phone = size === PHONE;

  test(`dashboard at ${size.width}x${size.height}: clean top bar, key columns, touch targets`, async () => {
    await onPage(size, async (page) => {
      await page.goto(server.url + "/");
      await waitForHydration(page);
      await page.waitForSelector("tr.signal-row");
      await assertCleanLayout(page, `dashboard ${tag}`);
      await assertKeyColumnsVisible(page, `dashboard ${tag}`);

      // The top bar: brand, Config and the session control (Sign in, or the
      // "local" badge of single-user mode, as here) share the first line
      // without overlapping (assertCleanLayout); the ExchangePanel wraps below.
      const box = async (selector) => page.locator(selector).first().boundingBox();
      const middle = (b) => b.y + b.height / 2;
      const brand = await box(".topbar .brand");
      const config = await box("[data-testid='config-toggle']");
      const signIn = await box("[data-testid='sign-in'], [data-testid='session-local']");
      const tabs = await box("[data-testid='exchange-panel'] .seg-group");
      assert.ok(Math.abs(middle(brand) - middle(config)) < 2, "brand and Config on one line");
      assert.ok(Math.abs(middle(signIn) - middle(config)) < 2, "the session control beside Config");
      assert.ok(signIn.x + signIn.width <= size.width, "the session control inside the screen");
      assert.ok(tabs.y >= config.y + config.height, "the exchange tabs sit below Config, not under it");
      for (const source of ["All", "MEXC", "HYPERLIQUID", "BINANCE"]) {
        assert.ok(await isVisible(page, `button[data-source='${source}']`), `${source} tab visible`);
      }

      assert.equal(await isVisible(page, "[data-testid='filters-toggle']"), phone, "the Filters button only on a phone");
      assert.equal(await isVisible(page, "[data-testid='filter-bar']"), !phone, "filters folded on a phone only");
      if (phone) {
        // Compact rows: no row scrolls sideways, each row is a touch target.
        const wrap = await page.$eval(".table-wrap", (w) => w.scrollWidth - w.clientWidth);
        assert.ok(wrap <= 0, `the compact table does not scroll sideways (${wrap} px)`);
        const hidden = await page.$$eval("tr.signal-row:first-child td", (tds) =>
          tds.filter((td) => td.getClientRects().length === 0).map((td) => td.cellIndex + 1),
        );
        assert.deepEqual(hidden, [7, 8, 9, 10], "price, RR, RSI and OI z wait for 'All columns'");
      }
      await page.screenshot({ path: join(SCREENSHOTS, `small-dashboard-${tag}.png`) });
    });
  });

  test(`detail view at ${size.width}x${size.height}: charts and setup fit the width`, async () => {
    await onPage(size, async (page) => {
      const signal = sharedSignal();
      const key = `${signal.exchange}:${signal.symbol}:${signal.strategy}`;
      await page.goto(server.url + "/");
      await waitForHydration(page);
      await page.click(`tr.signal-row[data-key='${key}']`);
      await page.waitForURL((url) => url.searchParams.get("sel") === key);
      await page.waitForSelector("[data-testid='htf-chart'] svg");
      await assertFitsWidth(page, "[data-testid='detail-panel']", `detail ${tag}`);
      if (phone) {
        // Full screen, with a way back that keeps the rest of the view.
        const panel = await page.locator("[data-testid='detail-panel']").boundingBox();
        assert.deepEqual(
          [panel.x, panel.y, panel.width, panel.height].map(Math.round),
          [0, 0, size.width, size.height],
          "the detail view covers the screen",
        );
        const back = await page.locator("[data-testid='detail-back']").boundingBox();
        assert.ok(back.y <= 0.5 && back.height >= TOUCH, `back control at the top: ${JSON.stringify(back)}`);
        await assertCleanLayout(page, `detail ${tag}`, { root: "[data-testid='detail-panel']" });
        await page.screenshot({ path: join(SCREENSHOTS, `small-detail-${tag}.png`) });
        // The back control stays at the top while the panel scrolls.
        await page.locator("[data-testid='detail-panel']").evaluate((p) => p.scrollTo(0, 600));
        const scrolled = await page.locator("[data-testid='detail-back']").boundingBox();
        assert.ok(Math.abs(scrolled.y) <= 0.5, "back control sticks to the top");
        await page.click("[data-testid='detail-back']");
        await page.waitForURL((url) => !url.searchParams.has("sel"));
        assert.equal(await page.locator("[data-testid='detail-panel']").count(), 0);
        // The layout at rest: once the page is scrolled (the click scrolled
        // a row into view), the sticky sort bar covers the rows that pass
        // under it by design.
        await page.evaluate(() => window.scrollTo(0, 0));
        await assertCleanLayout(page, `dashboard after back ${tag}`);
      } else {
        assert.equal(await isVisible(page, "[data-testid='detail-back']"), false, "no back bar beside the table");
        assert.equal(await isVisible(page, "[data-testid='detail-close']"), true);
        await assertCleanLayout(page, `detail ${tag}`);
        await page.screenshot({ path: join(SCREENSHOTS, `small-detail-${tag}.png`) });
      }
    });
  });

  test(`share page at ${size.width}x${size.height}: the header reads, levels and charts fit`, async () => {
    await onPage(size, async (page) => {
      const signal = sharedSignal();
      // Rendered whole on the server: nothing to hydrate.
      await page.goto(`${server.url}/signal/${signal.exchange}/${signal.symbol}/${signal.strategy}`);
      await page.waitForSelector("[data-testid='share-page']");
      await assertCleanLayout(page, `share ${tag}`);

      // Every part of the header: on screen, on one line, not covered by
      // another part (the SYNTHETIC badge used to cover the symbol).
      const parts = await page.$$eval("[data-testid='share-page'] .signal-header", ([header]) => {
        const pick = [
          ...header.querySelectorAll(".signal-title > *"),
          ...header.querySelectorAll(".signal-facts > span"),
          ...header.querySelectorAll(".signal-actions > *"),
        ];
        return pick.map((el) => {
          const r = el.getBoundingClientRect();
          return { text: el.textContent.trim(), lines: el.getClientRects().length, box: [r.left, r.top, r.right, r.bottom] };
        });
      });
      const texts = parts.map((p) => p.text);
      for (const expected of [signal.symbol, signal.exchange, signal.strategy, signal.action, `bias ${signal.bias}`]) {
        assert.ok(texts.includes(expected), `header shows ${expected}: ${texts}`);
      }
      for (const fact of [/^Score \d+\.\d\/100$/, /^Price /, /^15m candle .+ ago/, /SYNTHETIC DATA/]) {
        assert.ok(texts.some((t) => fact.test(t)), `header shows ${fact}: ${texts}`);
      }
      for (const part of parts) {
        assert.equal(part.lines, 1, `"${part.text}" is on one line`);
        assert.ok(part.box[0] >= 0 && part.box[2] <= size.width, `"${part.text}" is on screen`);
      }
      for (let i = 0; i < parts.length; i++) {
        for (let j = i + 1; j < parts.length; j++) {
          const [a, b] = [parts[i].box, parts[j].box];
          const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
          const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
          assert.ok(!(w > 1 && h > 1), `"${parts[i].text}" and "${parts[j].text}" do not overlap`);
        }
      }
      await assertFitsWidth(page, "[data-testid='share-page']", `share ${tag}`);
      await page.screenshot({ path: join(SCREENSHOTS, `small-share-${tag}.png`) });
      await page.screenshot({ path: join(SCREENSHOTS, `small-share-${tag}-full.png`), fullPage: true });
    });
  });
}

/** Both price charts span their panel, scaled whole; the setup levels fit with no cell cut off. */
async function assertFitsWidth(page, scope, label) {
  const parts = await page.$eval(scope, (root) => {
    const width = document.documentElement.clientWidth;
    const measure = (selector) => {
      const el = root.querySelector(selector);
      const r = el.getBoundingClientRect();
      const panel = el.closest(".panel").getBoundingClientRect();
      const view = el.viewBox?.baseVal;
      return {
        selector,
        left: r.left,
        right: r.right,
        fill: r.width / panel.width,
        aspect: view ? r.width / r.height / (view.width / view.height) : 1,
        inside: r.left >= 0 && r.right <= width,
        cut: [...el.querySelectorAll("td, th")].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent),
      };
    };
    return {
      charts: ["[data-testid='ltf-chart'] svg", "[data-testid='htf-chart'] svg"].map(measure),
      levels: measure(".setup-levels"),
    };
  });
  for (const part of [...parts.charts, parts.levels]) {
    assert.ok(part.inside, `${label}: ${part.selector} inside the viewport [${part.left}, ${part.right}]`);
    assert.deepEqual(part.cut, [], `${label}: no cell of ${part.selector} cut off`);
  }
  for (const chart of parts.charts) {
    assert.ok(chart.fill > 0.9 && chart.fill <= 1, `${label}: ${chart.selector} spans its panel (${chart.fill.toFixed(2)})`);
    assert.ok(Math.abs(chart.aspect - 1) < 0.02, `${label}: ${chart.selector} is scaled, not cut (${chart.aspect.toFixed(3)})`);
  }
  await assertChartsRead(page, scope, label);
}

/** Colours of the setup level lines (charts/style.rs). */
const LEVEL_COLORS = { TP: "#2EE59D", Entry: "#E6EDF3", SL: "#FF4D6D" };
/** The plot area of a price chart in its viewBox (charts/frame.rs margins): y from 32 to 300 - 36. */
const PLOT_TOP = 32;
const PLOT_BOTTOM = 264;

/**
 * The charts' text is at least 10 px on screen (its font size in the
 * SVG's units, scaled as the SVG is), and the setup's level lines are
 * inside the price charts' plot area, away from its bottom and top edges.
 */
async function assertChartsRead(page, scope, label) {
  const charts = await page.$eval(
    scope,
    (root, colors) =>
      [...root.querySelectorAll("svg.chart-svg")].map((svg) => {
        const view = svg.viewBox.baseVal;
        const scale = svg.getBoundingClientRect().width / view.width;
        const texts = [...svg.querySelectorAll("text")]
          .filter((t) => t.textContent.trim() !== "")
          .map((t) => ({ text: t.textContent.trim(), px: parseFloat(getComputedStyle(t).fontSize) * scale }));
        const levels = [...svg.querySelectorAll("polyline")]
          .map((line) => {
            const name = Object.keys(colors).find((n) => line.getAttribute("stroke") === colors[n]);
            const ys = line.getAttribute("points").trim().split(/\s+/).map((p) => Number(p.split(",")[1]));
            return name && ys.length === 2 && ys[0] === ys[1] ? { name, y: ys[0] } : null;
          })
          .filter(Boolean);
        return { kind: svg.getAttribute("class"), texts, levels };
      }),
    LEVEL_COLORS,
  );
  const price = charts.filter((c) => /price-chart/.test(c.kind));
  assert.equal(price.length, 2, `${label}: both price charts`);
  for (const chart of charts) {
    assert.ok(chart.texts.length > 0, `${label}: ${chart.kind} has labels`);
    const small = chart.texts.filter((t) => t.px < 10);
    assert.deepEqual(small.map((t) => `${t.text} ${t.px.toFixed(1)} px`), [], `${label}: ${chart.kind} text is at least 10 px`);
  }
  for (const chart of price) {
    assert.deepEqual(chart.levels.map((l) => l.name).sort(), ["Entry", "SL", "TP"], `${label}: ${chart.kind} draws the levels`);
    for (const level of chart.levels) {
      assert.ok(
        level.y >= PLOT_TOP + 20 && level.y <= PLOT_BOTTOM - 20,
        `${label}: ${chart.kind} ${level.name} at y ${level.y} is inside the plot, away from its edges (${PLOT_TOP}..${PLOT_BOTTOM})`,
      );
    }
  }
}

test("on a phone the filters fold behind one button and still filter", async () => {
  await onPage(PHONE, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    const toggle = "[data-testid='filters-toggle']";
    assert.equal(await page.getAttribute(toggle, "aria-expanded"), "false");
    await page.click(toggle);
    await page.waitForSelector("[data-testid='filter-bar']", { state: "visible" });
    assert.equal(await page.getAttribute(toggle, "aria-expanded"), "true");
    await page.selectOption("[data-testid='filter-strategy']", "Breakout");
    await page.waitForURL(/strategy=Breakout/);
    const strategies = await page.$$eval("tr.signal-row td:nth-child(3)", (tds) => [...new Set(tds.map((td) => td.textContent))]);
    assert.deepEqual(strategies, ["Breakout"]);
    assert.match(await page.textContent(toggle), /●/, "the button says filters are on");
    await assertCleanLayout(page, "filters open 390");
    await page.screenshot({ path: join(SCREENSHOTS, "small-filters-390.png") });

    // Folding them again keeps the filter.
    await page.click(toggle);
    await page.waitForSelector("[data-testid='filter-bar']", { state: "hidden" });
    assert.match(page.url(), /strategy=Breakout/);
    await assertCleanLayout(page, "filters folded 390");
  });
});

test("on a phone the signals that act come first, a WAIT row says why, and the Action filter works", async () => {
  await onPage(PHONE, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    const actions = await page.$$eval("tr.signal-row td:nth-child(4) .action", (els) => els.map((e) => e.textContent));
    const firstWait = actions.indexOf("WAIT");
    assert.ok(firstWait > 0, `the data has signals that act and ones that wait: ${actions}`);
    assert.ok(actions.slice(firstWait).every((a) => a === "WAIT"), `LONG and SHORT first: ${actions}`);
    const reason = page.locator("[data-testid='row-wait-reason']").first();
    await reason.scrollIntoViewIfNeeded();
    assert.ok(await reason.isVisible(), "the reason shows on the row itself");
    assert.match(await reason.getAttribute("title"), /^[a-z_]+$/, "the code in the tooltip");
    assert.doesNotMatch(await reason.textContent(), /_/, "words on the row, not a code");
    await assertCleanLayout(page, "wait reasons 390");

    await page.click("[data-testid='filters-toggle']");
    await page.selectOption("[data-testid='filter-action']", "actionable");
    await page.waitForURL(/act=actionable/);
    const acting = await page.$$eval("tr.signal-row td:nth-child(4) .action", (els) => els.map((e) => e.textContent));
    assert.equal(acting.length, firstWait);
    assert.ok(acting.every((a) => a !== "WAIT"), `${acting}`);
    await assertCleanLayout(page, "action filter 390");
    await page.screenshot({ path: join(SCREENSHOTS, "small-actionable-390.png") });
  });
});

test("no synthetic row wears a real pair's name, on any exchange", async () => {
  await onPage(PHONE, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    assert.match(await page.textContent("[data-testid='data-source'], .badge-synthetic"), /SYNTHETIC/);
    const symbols = await page.$$eval("tr.signal-row td.symbol", (tds) => tds.map((td) => td.textContent));
    assert.ok(symbols.length > 0);
    const real = symbols.filter((s) => !/^SYN\d{3}/.test(s));
    assert.deepEqual(real, [], "every simulated symbol is SYNnnn...");
    assert.deepEqual(new Set(feed.signals.map((s) => s.exchange)).size, 3, "on all three exchanges");
  });
});

test("on a phone 'All columns' shows the whole table, scrolling inside its box", async () => {
  await onPage(PHONE, async (page) => {
    await page.goto(server.url + "/");
    await waitForHydration(page);
    const visibleHeaders = () => page.$$eval(".scanner-table thead th", (ths) => ths.filter((th) => th.getClientRects().length > 0).length);
    assert.equal(await visibleHeaders(), 6, "the compact sort bar: the six sortable columns");
    await page.click("[data-testid='columns-toggle']");
    await page.waitForFunction(() => document.querySelector(".table-wrap").classList.contains("all-columns"));
    assert.equal(await page.getAttribute("[data-testid='columns-toggle']", "aria-pressed"), "true");
    assert.equal(await visibleHeaders(), 11);
    const wrap = await page.$eval(".table-wrap", (w) => ({ scroll: w.scrollWidth, client: w.clientWidth }));
    assert.ok(wrap.scroll > wrap.client, `the table scrolls inside its box: ${JSON.stringify(wrap)}`);
    await assertCleanLayout(page, "all columns 390");
    await page.screenshot({ path: join(SCREENSHOTS, "small-all-columns-390.png") });
    // Every column can be scrolled to, within the table's box.
    const ageOnScreen = () =>
      page.$eval(".scanner-table th[data-sort='age']", (th) => {
        const r = th.getBoundingClientRect();
        return r.left >= 0 && r.right <= document.documentElement.clientWidth;
      });
    assert.equal(await ageOnScreen(), false, "the last column starts off screen");
    await page.$eval(".table-wrap", (w) => w.scrollTo(w.scrollWidth, 0));
    assert.equal(await ageOnScreen(), true, "scrolled to, the last column is on screen");
    await assertCleanLayout(page, "all columns scrolled 390");
    // Sorting from the full header still works, then back to compact rows.
    await page.click("th[data-sort='rsi']");
    await page.waitForURL(/sort=rsi/);
    await page.click("[data-testid='columns-toggle']");
    assert.equal(await visibleHeaders(), 6);
  });
});

test("on a phone the ConfigPanel fits the screen", async () => {
  await onPage(PHONE, async (page) => {
    await page.goto(server.url + "/?panel=config");
    await waitForHydration(page);
    await page.waitForSelector("[data-testid='config-input']");
    await assertCleanLayout(page, "config 390", { root: "[data-testid='config-panel']" });
    const form = await page.$eval(".config-form", (f) => f.scrollWidth - f.clientWidth);
    assert.ok(form <= 0, `the form does not scroll sideways (${form} px)`);
    await page.screenshot({ path: join(SCREENSHOTS, "small-config-390.png") });
  });
});

test("the link preview does not depend on the screen: Open Graph tags as before", async () => {
  const signal = sharedSignal();
  const html = await (await fetch(`${server.url}/signal/${signal.exchange}/${signal.symbol}/${signal.strategy}`)).text();
  const meta = (attr, key) => html.match(new RegExp(`<meta ${attr}="${key}" content="([^"]*)"`))?.[1];
  assert.equal(meta("property", "og:title"), `${signal.symbol} ${signal.action} · ${signal.strategy} · QuantPro`);
  assert.equal(meta("property", "og:type"), "article");
  assert.equal(meta("property", "og:site_name"), "QuantPro");
  assert.equal(meta("name", "twitter:card"), "summary");
  const description = meta("property", "og:description");
  assert.equal(meta("name", "description"), description);
  assert.ok(description.startsWith(`${signal.symbol} on ${signal.exchange} · ${signal.strategy} · action ${signal.action} · score `), description);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1"/);
});

test("at 1280 px the phone controls stay hidden and the table keeps one-line rows", async () => {
  await onPage({ width: 1280, height: 800 }, async (page) => {
    const signal = sharedSignal();
    await page.goto(`${server.url}/?sel=${encodeURIComponent(`${signal.exchange}:${signal.symbol}:${signal.strategy}`)}`);
    await waitForHydration(page);
    await page.waitForSelector("[data-testid='detail-close']");
    for (const selector of ["filters-toggle", "columns-toggle", "detail-back"]) {
      assert.equal(await isVisible(page, `[data-testid='${selector}']`), false, `${selector} hidden`);
    }
    assert.equal(await isVisible(page, "[data-testid='filter-bar']"), true);
    const topbar = await page.locator(".topbar").boundingBox();
    assert.equal(Math.round(topbar.height), 52, "the top bar is one line");
    const headers = await page.$$eval(".scanner-table thead th", (ths) => ths.map((th) => Math.round(th.getBoundingClientRect().top)));
    assert.equal(headers.length, 11);
    assert.equal(new Set(headers).size, 1, "every column header on one line");
    const row = await page.$eval("tr.signal-row", (tr) => ({ display: getComputedStyle(tr).display, height: tr.getBoundingClientRect().height }));
    assert.equal(row.display, "table-row");
    assert.ok(row.height < TOUCH, `dense rows stay dense: ${row.height}`);
    const panel = await page.locator("[data-testid='detail-panel']").boundingBox();
    assert.ok(panel.y > topbar.height && panel.width < 1280, "the detail view stays below the table, not full screen");
  });
});
