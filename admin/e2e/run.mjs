// End-to-end journeys of the admin UI in Chromium (playwright-core driving Debian's chromium)
// against a real `vane up` that scripts/test-admin.sh started:
//   (a) a PM signs in with the bootstrap credentials, creates a flag with a rule, turns it on
//       in the demo environment, and the edge's /v1/evaluate answers the new value;
//   (b) creates an experiment with two variants and a metric, starts it, `vane demo traffic`
//       sends users, the results show both variants with intervals and no SRM banner, the CSV
//       export downloads rows; then stops it;
//   (c) a viewer cannot edit: the UI offers no edit and core refuses a forged request;
//   (d) two editors change one flag: the second sees the conflict.
// axe-core runs on every screen (no serious or critical violation) and every screen is
// screenshotted to $VANE_E2E_SHOTS.
//
// Environment: VANE_E2E_CORE, VANE_E2E_EDGE, VANE_E2E_ADMIN_EMAIL, VANE_E2E_ADMIN_PASSWORD,
// VANE_E2E_DATA_DIR, VANE_E2E_VANE (the binary), VANE_E2E_SHOTS, VANE_E2E_CHROMIUM.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const CORE = env("VANE_E2E_CORE");
const EDGE = env("VANE_E2E_EDGE");
const ADMIN = { email: env("VANE_E2E_ADMIN_EMAIL"), password: env("VANE_E2E_ADMIN_PASSWORD") };
const DATA_DIR = env("VANE_E2E_DATA_DIR");
const VANE = env("VANE_E2E_VANE");
const SHOTS = env("VANE_E2E_SHOTS");
const UI = `${CORE}/admin`;
mkdirSync(SHOTS, { recursive: true });

const failures = [];
const axeReport = [];
let step = "";

function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

async function poll(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${step}: gave up waiting for ${what}`);
}

/** Runs axe on the page and writes its screenshot: the check every screen gets. */
async function screen(page, name) {
  await page.waitForLoadState("networkidle");
  await page.locator("[role=status]:has-text('Loading')").first().waitFor({ state: "detached", timeout: 10_000 }).catch(() => {});
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeReport.push({ screen: name, violations: result.violations.length, seriousOrCritical: bad.length });
  if (bad.length) {
    failures.push(
      `axe on ${name}: ` +
        bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`).join("; "),
    );
  }
}

async function api(method, path, token, body, headers = {}) {
  const response = await fetch(`${CORE}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, etag: response.headers.get("etag") };
}

async function signIn(page, who) {
  await page.goto(`${UI}/`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Experiments" }).waitFor();
}

function clientKey() {
  const creds = JSON.parse(readFileSync(`${DATA_DIR}/up/credentials-demo.json`, "utf8"));
  return creds.client.key;
}

async function evaluate(flag, context) {
  const response = await fetch(`${EDGE}/v1/evaluate`, {
    method: "POST",
    headers: { authorization: `Bearer ${clientKey()}`, "content-type": "application/json" },
    body: JSON.stringify({ context, flags: [flag] }),
  });
  const body = await response.json();
  return body.flags?.find((f) => f.key === flag);
}

const browser = await chromium.launch({ executablePath: process.env.VANE_E2E_CHROMIUM ?? "/usr/bin/chromium" });
const started = Date.now();
try {
  const adminToken = (await api("POST", "/auth/login", null, ADMIN)).json.token;

  // ---- the sign-in page ----------------------------------------------------------------
  step = "sign-in";
  {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const page = await ctx.newPage();
    await page.goto(`${UI}/`);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await screen(page, "01-sign-in");
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill("certainly not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
    await ctx.close();
  }

  // ---- (a) a flag with a rule, on in demo, served by the edge ---------------------------
  step = "(a) flag";
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  await signIn(page, ADMIN);
  await screen(page, "02-experiments");
  check(await page.getByRole("link", { name: /Checkout/i }).count() > 0, "the demo experiment is listed");

  await page.getByRole("link", { name: "Flags", exact: true }).click();
  await page.getByRole("heading", { name: "Flags" }).waitFor();
  await screen(page, "03-flags");
  await page.getByRole("link", { name: "New flag" }).click();
  await page.getByLabel("Key", { exact: true }).fill("e2e-de-banner");
  await page.getByLabel("Description").fill("Banner for German users (e2e)");
  await page.getByRole("tab", { name: /^demo/ }).click();
  await page.getByRole("button", { name: "+ Rule" }).click();
  const rule = page.locator(".rule").first();
  await rule.getByRole("button", { name: "+ Condition" }).click();
  await rule.getByLabel("Attribute").fill("country");
  await rule.getByLabel("Value").fill("DE");
  check((await rule.getByLabel("Serve").inputValue()) === "1", "a new rule serves variation 1 (true)");
  const json = await rule.getByLabel("Rule 1 condition as JSON").inputValue();
  check(JSON.stringify(JSON.parse(json)) === JSON.stringify({ country: "DE" }), `the JSON view follows the builder: ${json}`);
  await page.getByRole("button", { name: "Create flag" }).click();
  await page.getByRole("heading", { name: "Flag e2e-de-banner" }).waitFor();
  await screen(page, "04-flag-editor");
  // Turn it on in demo from the list (a one-click kill switch outside production).
  await page.getByRole("link", { name: "All flags" }).click();
  const toggle = page.getByRole("switch", { name: "e2e-de-banner in demo" });
  await toggle.click();
  await poll("the toggle to show on", async () => (await toggle.isChecked()) && !(await toggle.isDisabled()));
  const de = await poll("the edge to serve the flag on", async () => {
    const r = await evaluate("e2e-de-banner", { user_id: "u-1", country: "DE" });
    return r?.value === true ? r : null;
  });
  const us = await evaluate("e2e-de-banner", { user_id: "u-1", country: "US" });
  check(de.value === true && us?.value === false, `edge answers DE=${de.value} US=${us?.value}`);

  // The test-a-context panel shows the value and the reason.
  await page.getByRole("link", { name: "e2e-de-banner" }).click();
  await page.getByRole("button", { name: "Evaluate" }).click();
  await page.locator(".panel tr.highlight").waitFor();
  const row = await page.locator(".panel tr.highlight").innerText();
  check(row.includes("true"), `test a context shows the value: ${row}`);

  // ---- (b) an experiment, traffic, results, CSV, stop ----------------------------------
  step = "(b) experiment";
  await page.getByRole("link", { name: "Experiments", exact: true }).click();
  await page.getByRole("link", { name: "New experiment" }).click();
  await page.getByLabel("Key", { exact: true }).fill("e2e-cta");
  await page.getByLabel("Name").first().fill("E2E call to action");
  await page.getByLabel("Hypothesis", { exact: true }).fill("A louder button sells more");
  await page.getByLabel("Owner", { exact: true }).fill("pm@vane.local");
  await page.getByLabel("Tags", { exact: true }).fill("e2e, checkout");
  await page.getByLabel("Primary metrics").selectOption("purchase-rate");
  await page.getByRole("button", { name: "Create experiment" }).click();
  await page.getByRole("heading", { name: /E2E call to action/ }).waitFor();
  await screen(page, "05-experiment-editor");
  await page.getByRole("button", { name: "Start" }).click();
  const dialog = page.getByRole("dialog");
  check((await dialog.innerText()).includes("Edges start assigning"), "the start confirmation names the consequence");
  await dialog.getByRole("button", { name: "Start" }).click();
  await page.locator(".badge.status-running").first().waitFor();
  // Changes refused while running are explained.
  check((await page.getByText("cannot change while it runs").count()) > 0, "the variants say why they are frozen");

  const traffic = await promisify(execFile)(
    VANE,
    ["demo", "traffic", "--users", "3000", "--lift", "0.2", "--edge", EDGE, "--data-dir", DATA_DIR, "--experiment", "e2e-cta", "--seed", "7", "--max-seconds", "90"],
    { timeout: 180_000 },
  );
  console.log(traffic.stdout.trim().split("\n").slice(-3).join("\n"));
  await page.getByRole("link", { name: "Results" }).first().click();
  await page.getByRole("button", { name: "Recompute now" }).click();
  await poll("results with both variants", async () => {
    await page.getByRole("button", { name: "Recompute now" }).click().catch(() => {});
    await page.waitForTimeout(500);
    const rows = await page.locator("article.metric").first().locator("tbody tr").count();
    const units = await page.locator("article.metric").first().locator("tbody tr").nth(1).locator("td").first().innerText().catch(() => "0");
    return rows === 2 && Number(units.replace(/\D/g, "")) > 100;
  }, 60_000);
  const metric = page.locator("article.metric").first();
  check((await metric.locator("svg.interval-plot").count()) === 1, "the treatment's interval is drawn");
  check(/\[[-+]?\d/.test(await metric.locator(".interval").first().innerText()), "the interval is printed");
  check((await page.locator(".srm").count()) === 0, "no SRM banner");
  check((await page.getByTestId("decision").innerText()).includes("purchase-rate"), "the decision line names the metric");
  await screen(page, "06-results");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  check(csv.length >= 3, `the CSV has a header and rows: ${csv.length} lines`);
  await page.getByRole("link", { name: "Compare" }).click();
  await page.locator("tbody tr").first().waitFor();
  await screen(page, "07-compare");
  await page.goto(`${UI}/experiments/e2e-cta`);
  await page.getByRole("button", { name: "Stop" }).click();
  check((await page.getByRole("dialog").innerText()).includes("Edges stop assigning"), "the stop confirmation names the consequence");
  await page.getByRole("dialog").getByRole("button", { name: "Stop" }).click();
  await page.locator(".badge.status-stopped").first().waitFor();
  const stopped = await api("GET", "/experiments/e2e-cta", adminToken);
  check(stopped.json.status === "stopped", `core says ${stopped.json.status}`);

  // ---- every other screen ----------------------------------------------------------------
  step = "screens";
  for (const [path, name, heading] of [
    ["/segments", "08-segments", "Segments"],
    ["/layers", "09-layers", "Layers"],
    ["/holdouts", "10-holdouts", "Holdouts"],
    ["/metrics", "11-metrics", "Metrics"],
    ["/environments", "12-environments", "Environments"],
    ["/keys", "13-api-keys", "API keys"],
    ["/users", "14-users", "Users"],
    ["/audit", "15-audit", "Audit log"],
    ["/edges", "16-edges", "Edges"],
    ["/account", "17-account", "Your account"],
  ]) {
    await page.getByRole("navigation").getByRole("link", { name: heading, exact: true }).click().catch(() => page.goto(UI + path));
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    if (path === "/segments") {
      await page.getByRole("button", { name: "New segment" }).click();
      await page.getByLabel("Key", { exact: true }).fill("e2e-beta");
      await page.getByRole("radio", { name: "a list of ids" }).check();
      await page.getByLabel("Ids (paste one per line or comma separated)").fill("u1\nu2, u3\n42");
      await screen(page, "08b-segment-editor");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("row", { name: /e2e-beta/ }).waitFor();
      const seg = await api("GET", "/segments/e2e-beta", adminToken);
      check(JSON.stringify(seg.json.id_list.ids) === JSON.stringify(["u1", "u2", "u3", 42]), "the pasted list was imported");
    }
    if (path === "/keys") {
      await page.getByLabel("Name").fill("e2e key");
      await page.getByRole("button", { name: "Create key" }).click();
      const shown = await page.getByTestId("new-key").innerText();
      check(shown.startsWith("vane_client_"), "the new key is shown once");
    }
    if (path === "/audit") {
      await page.getByLabel("Key", { exact: true }).fill("e2e-de-banner");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByRole("cell", { name: /create flag/ }).waitFor();
    }
    if (path === "/edges") await page.locator("tbody th", { hasText: "native-1" }).first().waitFor();
    await screen(page, name);
  }
  check(consoleErrors.filter((e) => !e.includes("401")).length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
  await ctx.close();

  // ---- (c) a viewer cannot edit ----------------------------------------------------------
  step = "(c) viewer";
  const viewer = { email: "viewer-e2e@vane.local", password: "viewer password 123" };
  const created = await api("POST", "/users", adminToken, { ...viewer, name: "Vera Viewer", role: "viewer" });
  check(created.status === 201, `creating the viewer: ${created.status}`);
  {
    const vctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const vpage = await vctx.newPage();
    await signIn(vpage, viewer);
    check((await vpage.getByRole("link", { name: "New experiment" }).count()) === 0, "no New experiment for a viewer");
    await vpage.getByRole("link", { name: "Flags", exact: true }).click();
    await vpage.getByRole("heading", { name: "Flags" }).waitFor();
    check((await vpage.getByRole("link", { name: "New flag" }).count()) === 0, "no New flag for a viewer");
    check(await vpage.getByRole("switch", { name: "e2e-de-banner in demo" }).isDisabled(), "toggles are disabled");
    check((await vpage.getByRole("navigation").getByRole("link", { name: "Users" }).count()) === 0, "no Users page");
    await vpage.getByRole("link", { name: "e2e-de-banner" }).click();
    await vpage.getByText("You have the viewer role").waitFor();
    check((await vpage.getByRole("button", { name: "Save flag" }).count()) === 0, "no Save for a viewer");
    await screen(vpage, "18-flag-as-viewer");
    // A forged write through the viewer's own session, with its CSRF token: core refuses.
    const forged = await vpage.evaluate(async () => {
      const s = await (await fetch("/api/v1/auth/session")).json();
      const r = await fetch("/api/v1/flags/e2e-de-banner/environments/demo", {
        method: "PUT",
        headers: { "content-type": "application/json", "x-csrf-token": s.csrf_token, "if-match": "\"1\"" },
        body: JSON.stringify({ enabled: false }),
      });
      const noCsrf = await fetch("/api/v1/flags", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      return [r.status, noCsrf.status];
    });
    check(forged[0] === 403 && forged[1] === 403, `core refuses the viewer's forged writes: ${forged}`);
    const still = await api("GET", "/flags/e2e-de-banner", adminToken);
    check(still.json.environments.demo.enabled === true, "the flag is still on");
    await vctx.close();
  }

  // ---- (d) two editors, one flag: the second sees the conflict --------------------------
  step = "(d) conflict";
  const editors = [
    { email: "ed-one@vane.local", password: "editor one password" },
    { email: "ed-two@vane.local", password: "editor two password" },
  ];
  for (const [i, e] of editors.entries()) {
    const r = await api("POST", "/users", adminToken, { ...e, name: `Editor ${i + 1}`, role: "editor" });
    check(r.status === 201, `creating editor ${i + 1}: ${r.status}`);
  }
  const pages = [];
  for (const e of editors) {
    const c = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const p = await c.newPage();
    await signIn(p, e);
    await p.goto(`${UI}/flags/e2e-de-banner`);
    await p.getByLabel("Description").waitFor();
    pages.push(p);
  }
  await pages[0].getByLabel("Description").fill("Changed by editor one");
  await pages[0].getByRole("button", { name: "Save flag" }).click();
  await pages[0].getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await pages[1].getByLabel("Description").fill("Editor two's text");
  await pages[1].getByRole("button", { name: "Save flag" }).click();
  const conflict = pages[1].locator(".notice.conflict");
  await conflict.waitFor();
  await poll("who changed it", async () => (await conflict.innerText()).includes("ed-one@vane.local"));
  check((await pages[1].getByLabel("Description").inputValue()) === "Editor two's text", "the second editor's input is kept");
  await screen(pages[1], "19-conflict");
  await conflict.getByRole("button", { name: "Reload the current version" }).click();
  await poll("the reloaded version", async () => (await pages[1].getByLabel("Description").inputValue()) === "Changed by editor one");
  const final = await api("GET", "/flags/e2e-de-banner", adminToken);
  check(final.json.description === "Changed by editor one", "the first save stands");
} catch (e) {
  failures.push(String(e?.stack ?? e));
} finally {
  await browser.close();
}

console.log(`axe: ${axeReport.map((r) => `${r.screen} ${r.seriousOrCritical}/${r.violations}`).join(", ")}`);
console.log(`e2e took ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (failures.length) {
  console.error(`\n${failures.length} failure(s):\n- ${failures.join("\n- ")}`);
  process.exit(1);
}
console.log("admin e2e: journeys (a)-(d) and axe on every screen passed");
