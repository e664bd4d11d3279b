// End-to-end in the real webview: the app binary under Xvfb, driven through tauri-driver +
// WebKitWebDriver; native GTK dialogs driven with xdotool. Run by `run.sh` (which sets
// PIPELINE_DB_HOME to an empty dir, starts Xvfb and tauri-driver).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { Session, sleep } from "./webdriver.mjs";

const APP = process.env.APP;
const DATA = process.env.PIPELINE_DB_HOME;
const SHOTS = process.env.SHOTS;
const EXPORT_DIR = process.env.EXPORT_DIR;
mkdirSync(SHOTS, { recursive: true });

const steps = [];
async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
  } catch (e) {
    // What the page showed when the step failed: its screenshot and every toast's text.
    console.log(`FAIL ${name}`);
    try {
      writeFileSync(join(SHOTS, "failed-step.png"), await s.screenshot());
      for (const el of await s.findAll('[data-testid^="toast"]')) console.log(`  toast: ${await s.text(el)}`);
    } catch (e2) {
      console.log(`  (no screenshot or toasts: ${e2})`);
    }
    throw e;
  }
  steps.push(`ok   ${name} (${Date.now() - t0} ms)`);
  console.log(`ok   ${name}`);
}

async function shot(s, name) {
  await sleep(700); // paint lags the DOM
  writeFileSync(join(SHOTS, `${name}.png`), await s.screenshot());
}

/** A native file dialog: as `nativeDialog`, and the window must belong to the app's file-dialog
 * child process (`--file-dialog`): GTK's chooser opens and closes the files it lists, which in
 * the app's own process would drop its SQLite locks. */
const usedDialogs = new Set();
async function fileDialog(title, keys) {
  // A process of its own: GTK starts there first, so the dialog is given longer to settle. The
  // window of the previous dialog of the same title may still be closing with its process: it is
  // passed over.
  const w = await nativeDialog(title, keys, 15000, 1500, (w) => {
    let pid, cmd;
    try {
      pid = execFileSync("xdotool", ["getwindowpid", w], { encoding: "utf8" }).trim();
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return false; // gone meanwhile
    }
    if (usedDialogs.has(pid)) return false;
    assert.ok(cmd.includes("--file-dialog"), `the file dialog runs in a process of its own: ${cmd.join(" ")}`);
    usedDialogs.add(pid);
    return true;
  });
  // A key sent before the new process's dialog took it is lost (the dialog stays open): sent
  // again, twice at most. Each sequence opens the location field and types the whole path.
  for (let again = 0; again < 2 && (await stillOpen(w)); again++) {
    console.log(`  (the dialog "${title}" is still open: its keys again)`);
    await sendKeys(w, keys);
  }
}

/** Whether window `w` is still mapped 4 s from now (polled). */
async function stillOpen(w) {
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    let visible = "";
    try {
      visible = execFileSync("xdotool", ["search", "--onlyvisible", "--name", "."], { encoding: "utf8" });
    } catch {
      /* none */
    }
    if (!visible.split("\n").includes(w)) return false;
    await sleep(200);
  }
  return true;
}

async function sendKeys(w, keys) {
  for (const k of keys) {
    // No window manager: focus the dialog, then type into whatever has the focus.
    const args = k.type !== undefined ? ["type", "--delay", "20", k.type] : ["key", ...k.key];
    execFileSync("xdotool", ["windowfocus", "--sync", w]);
    execFileSync("xdotool", args);
    await sleep(250);
  }
}

/** Waits for a native window whose title contains `title` (and for which `check(windowId)`, if
 * given, says true), focuses it, sends `keys`. */
async function nativeDialog(title, keys, timeoutMs = 15000, settleMs = 600, check = undefined) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    let ids = "";
    try {
      ids = execFileSync("xdotool", ["search", "--onlyvisible", "--name", title], { encoding: "utf8" }).trim();
    } catch {
      /* not there yet */
    }
    const w = ids ? ids.split("\n").find((id) => !check || check(id)) : undefined;
    if (w) {
      await sleep(settleMs);
      if (process.env.SHOT_DIALOG) {
        execFileSync("import", ["-window", "root", join(SHOTS, `${process.env.SHOT_DIALOG}.png`)]);
      }
      await sendKeys(w, keys);
      return w;
    }
    await sleep(200);
  }
  throw new Error(`no native window named ${title}`);
}

/** The smallest valid SQLite database: one 512-byte page, no schema objects, no application id
 * (what a freshly created, never-written database file is after its first page is flushed). */
function emptyDatabase() {
  const b = Buffer.alloc(512);
  b.write("SQLite format 3\0", 0, "latin1");
  b.writeUInt16BE(512, 16); // page size
  b[18] = 1; // rollback-journal file format (write, read)
  b[19] = 1;
  b[21] = 64; // payload fractions
  b[22] = 32;
  b[23] = 32;
  b.writeUInt32BE(1, 24); // change counter
  b.writeUInt32BE(1, 28); // size in pages
  b.writeUInt32BE(4, 44); // schema format
  b.writeUInt32BE(1, 56); // UTF-8
  b.writeUInt32BE(1, 92); // version-valid-for = change counter
  b.writeUInt32BE(3046000, 96);
  b[100] = 0x0d; // page 1: an empty table b-tree leaf
  b.writeUInt16BE(512, 105); // cell content area starts at the end of the page
  return b;
}

const toastOk = (s, test = () => true) => s.waitFor('[data-testid="toast-ok"]', test, 60000);
async function dismissToasts(s) {
  await s.exec("document.querySelectorAll('.toasts .toast').forEach(t => t.remove())");
}

/** Accepts core's y/N in the native dialog raised in Rust (the page cannot click it). Cancel
 * holds the focus: Tab moves it to the action, Return presses it. */
async function acceptNative(title) {
  await nativeDialog(title, [{ key: ["Tab"] }, { key: ["Return"] }]);
}

async function confirmPlan(s) {
  await s.waitFor('[data-testid="plan-modal"]');
  await s.click('[data-testid="plan-confirm"]');
}

// Until the plan modal has closed (the card may show the outcome a moment before it does; a click
// elsewhere meanwhile is intercepted by the modal).
async function planClosed(s, ms = 30000) {
  const end = Date.now() + ms;
  while (await s.exec("return !!document.querySelector('[data-testid=plan-modal]')")) {
    if (Date.now() > end) throw new Error("the plan modal did not close");
    await sleep(100);
  }
}

// Cold start: from asking tauri-driver for a session (it launches the app) to the session being
// ready, and to the first env card on the page.
const t0 = Date.now();
const s = await Session.start("http://127.0.0.1:4444", APP);
const tSession = Date.now() - t0;
try {
  await s.waitFor('[data-testid="env-card-dev"]');
  console.log(`cold start of ${APP}: WebDriver session ready in ${tSession} ms, first env card in ${Date.now() - t0} ms`);

  await step("window shows one card per env, prod protected", async () => {
    await s.waitFor('[data-testid="env-card-dev"]');
    await s.waitFor('[data-testid="env-card-test"]');
    const prod = await s.waitFor('[data-testid="env-card-prod"]');
    assert.match(await s.text(prod), /PROTECTED/);
    // Seeding prod is shown, and disabled with core's reason (the page does not decide it).
    const [off, why] = await s.exec("const b = document.querySelector('[data-testid=act-seed-prod]'); return [b.disabled, b.title]");
    assert.equal(off, true);
    assert.match(why, /sample data is never written/);
    assert.equal(await s.text(await s.find('[data-testid="health-dev"]')), "missing");
    assert.match(await s.exec("return document.title"), /DEV/);
    await shot(s, "01-empty-dashboard");
  });

  await step("migrate dev through the plan modal", async () => {
    await s.click('[data-testid="act-migrate-dev"]');
    await confirmPlan(s);
    await toastOk(s);
    await s.waitFor('[data-testid="health-dev"]', (t) => t === "ok");
    await dismissToasts(s);
  });

  await step("seed dev with sample data", async () => {
    await s.click('[data-testid="act-seed-dev"]');
    await confirmPlan(s);
    await toastOk(s, (t) => /jobs inserted/.test(t));
    await s.waitFor('[data-testid="rows-dev"]', (t) => /jobs 500/.test(t));
    await dismissToasts(s);
    await shot(s, "02-dashboard");
  });

  await step("data browser lists jobs and filters by status", async () => {
    await s.click('[data-testid="nav-data"]');
    await s.waitFor('[data-testid="jobs-table"] tbody .status');
    assert.equal((await s.findAll('[data-testid="jobs-table"] tbody tr')).length, 50);
    await s.select('[data-testid="filter-status"]', "failed");
    await s.click('[data-testid="filter-apply"]');
    await sleep(500);
    const statuses = await s.exec(
      "return [...document.querySelectorAll('[data-testid=jobs-table] tbody .status')].map(e => e.textContent)",
    );
    assert.ok(statuses.length > 0, "some failed jobs");
    assert.ok(statuses.every((x) => x === "failed"), JSON.stringify(statuses));
    await s.click('[data-testid="jobs-table"] tbody tr td:nth-child(2)');
    await s.waitFor('[data-testid="job-detail"]', (t) => /error|failed/i.test(t));
    await shot(s, "03-data-browser");
  });

  await step("charts render", async () => {
    await s.click('[data-testid="nav-charts"]');
    await s.waitFor('[data-testid="charts"]');
    await sleep(800);
    const drawn = await s.exec(
      "return [...document.querySelectorAll('[data-testid=charts] canvas')].map(c => c.width > 0 && c.height > 0)",
    );
    assert.deepEqual(drawn, [true, true, true, true]);
    await shot(s, "04-charts");
  });

  await step("reset dev through the plan modal: counts drop, a backup appears", async () => {
    await s.click('[data-testid="nav-envs"]');
    await s.click('[data-testid="act-reset-dev"]');
    const modal = await s.waitFor('[data-testid="plan-modal"]');
    assert.match(await s.text(modal), /500/);
    await shot(s, "05-plan-modal");
    await s.click('[data-testid="plan-confirm"]');
    await acceptNative("Confirm reset of DEV");
    await toastOk(s, (t) => /Backup: .*pre-reset/.test(t));
    await s.waitFor('[data-testid="rows-dev"]', (t) => /jobs 0/.test(t));
    await s.waitFor('[data-testid="last-backup-dev"]', (t) => t !== "never");
    await dismissToasts(s);
  });

  await step("undo the reset: the 500 jobs come back", async () => {
    await s.click('[data-testid="act-undo-dev"]');
    await s.waitFor('[data-testid="plan-modal"]', (t) => /undoes reset/.test(t));
    await s.click('[data-testid="plan-confirm"]');
    await acceptNative("Confirm undo of DEV");
    await toastOk(s);
    await s.waitFor('[data-testid="rows-dev"]', (t) => /jobs 500/.test(t));
    await dismissToasts(s);
  });

  await step("check dev", async () => {
    await s.click('[data-testid="act-check-dev"]');
    await toastOk(s, (t) => /checks passed/.test(t));
    await dismissToasts(s);
  });

  await step("a big seed shows progress with counts and ETA, and Cancel rolls it back", async () => {
    await s.exec(
      "const i = document.querySelector('[data-testid=seed-jobs-dev]'); i.value = '200000'; i.dispatchEvent(new Event('input', {bubbles: true}));",
    );
    await s.click('[data-testid="act-seed-dev"]');
    await s.waitFor('[data-testid="plan-seed"]', (t) => /200,000 jobs/.test(t));
    await s.click('[data-testid="plan-confirm"]');
    await s.waitFor('[data-testid="progress"]', (t) => /seeding jobs: [1-9][\d,]* \/ 200,000 .* left/.test(t), 60000);
    await shot(s, "08-seed-progress");
    await s.click('[data-testid="progress-cancel"]');
    await s.waitFor('[data-testid="toast-error"]', (t) => /cancel/i.test(t), 60000);
    await s.waitFor('[data-testid="rows-dev"]', (t) => /jobs 500\b/.test(t));
    await dismissToasts(s);
  });

  await step("prod does not exist yet: Reset and Undo are disabled with core's reason; Migrate creates it", async () => {
    const why = (a) => s.exec(`const b = document.querySelector('[data-testid=act-${a}-prod]'); return [b.disabled, b.title]`);
    const [resetOff, resetWhy] = await why("reset");
    assert.equal(resetOff, true);
    assert.match(resetWhy, /prod does not exist yet: Migrate creates it/);
    const [undoOff, undoWhy] = await why("undo");
    assert.equal(undoOff, true);
    assert.match(undoWhy, /nothing to undo/);
    // Visually hidden (WebDriver's text is empty), read by screen readers through aria-describedby.
    assert.match(await s.exec("return document.querySelector('[data-testid=why-reset-prod]').textContent"), /Migrate creates it/);
    await s.click('[data-testid="act-migrate-prod"]');
    await confirmPlan(s);
    await toastOk(s);
    await s.waitFor('[data-testid="health-prod"]', (t) => t === "ok");
    await s.waitFor('[data-testid="rows-prod"]', (t) => /\(empty\)/.test(t));
    assert.equal((await why("reset"))[0], false, "reset can apply now");
    await dismissToasts(s);
  });

  await step("prod reset: the name typed in the native dialog, then Return answers Cancel (its default) and changes nothing", async () => {
    await s.click('[data-testid="act-reset-prod"]');
    await s.waitFor('[data-testid="plan-modal"]', (t) => /PROTECTED/.test(t));
    assert.match(await s.text(await s.find('[data-testid="typed-next"]')), /type prod/);
    assert.equal(await s.exec("return document.querySelector('[data-testid=plan-modal] input')"), null, "the page types no name");
    await shot(s, "06-prod-plan-modal");
    await s.click('[data-testid="plan-confirm"]');
    process.env.SHOT_DIALOG = "07-native-prod-dialog";
    await nativeDialog("Confirm reset of PROD", [{ type: "prod" }, { key: ["Return"] }]);
    delete process.env.SHOT_DIALOG;
    await s.waitFor('[data-testid="toast-error"]', (t) => /cancelled/.test(t), 20000);
    assert.equal(await s.text(await s.find('[data-testid="health-prod"]')), "ok");
    assert.ok(!existsSync(join(DATA, "backups", "prod")) || !readdirSync(join(DATA, "backups", "prod")).some((f) => f.includes("pre-reset")),
      "no pre-reset backup was taken");
    await dismissToasts(s);
  });

  await step("prod reset: the name typed in the native dialog and its action button: done, after a verified backup", async () => {
    await s.click('[data-testid="act-reset-prod"]');
    await s.waitFor('[data-testid="plan-modal"]', (t) => /PROTECTED/.test(t));
    await s.click('[data-testid="plan-confirm"]');
    // Tab from the text field to Cancel, then to the action button.
    await nativeDialog("Confirm reset of PROD", [{ type: "prod" }, { key: ["Tab"] }, { key: ["Tab"] }, { key: ["Return"] }]);
    await toastOk(s, (t) => /prod/.test(t));
    assert.ok(readdirSync(join(DATA, "backups", "prod")).some((f) => f.includes("pre-reset")), "a pre-reset backup of prod");
    await dismissToasts(s);
  });

  await step("export a backup through the native save dialog", async () => {
    const dest = join(EXPORT_DIR, "dev-export.sqlite3");
    await s.click('[data-testid="act-export-dev"]');
    await confirmPlan(s);
    await fileDialog("Export backup of dev", [{ key: ["ctrl+a"] }, { type: dest }, { key: ["Return"] }]);
    await toastOk(s, (t) => t.includes(dest));
    assert.ok(existsSync(dest), `${dest} exists`);
    await dismissToasts(s);
  });

  await step("restore dev from a file picked in the native open dialog", async () => {
    const src = join(EXPORT_DIR, "dev-export.sqlite3");
    await s.click('[data-testid="act-restore-dev"]');
    await fileDialog("Restore dev from a backup file", [{ key: ["ctrl+l"] }, { key: ["ctrl+a"] }, { type: src }, { key: ["Return"] }]);
    await s.waitFor('[data-testid="plan-source"]', (t) => t.includes(src));
    await s.click('[data-testid="plan-confirm"]');
    await acceptNative("Confirm restore of DEV");
    // A new pre-restore backup, or none when a verified one (here the cancelled seed's pre-seed
    // backup, if nothing changed since) already held exactly the database.
    await toastOk(s, (t) => /Backup: .*pre-restore|No new backup: .* already held this database/.test(t));
    await s.waitFor('[data-testid="rows-dev"]', (t) => /jobs 500/.test(t));
  });

  // The WebDriver key codes of the W3C spec: Control toggles, then a, then Control released.
  const CTRL_A = "\uE009a\uE009";
  const CTRL_ENTER = "\uE009\uE007\uE009";
  /** Replaces the SQL editor's text (CodeMirror's contenteditable) and runs it with Ctrl+Enter. */
  async function runSql(sql) {
    await s.type('[data-testid="sql-editor"] .cm-content', CTRL_A + sql);
    await s.exec("document.querySelectorAll('.cm-tooltip-autocomplete').forEach(t => t.remove())");
    await s.type('[data-testid="sql-editor"] .cm-content', "\uE00C" + CTRL_ENTER); // Escape closes completion
  }
  const csvLines = (path) => readFileSync(path, "utf8").trimEnd().split("\r\n");

  await step("Query view: completion of table names, Ctrl+Enter runs, the grid pages with count and time", async () => {
    await dismissToasts(s);
    await s.click('[data-testid="nav-query"]');
    await s.waitFor('[data-testid="sql-editor"] .cm-content');
    // CodeMirror's injected theme is allowed by the page's CSP nonce (no 'unsafe-inline').
    assert.equal(await s.exec("return getComputedStyle(document.querySelector('.cm-editor')).display"), "flex");
    await s.type('[data-testid="sql-editor"] .cm-content', CTRL_A + "SELECT * FROM pipel");
    await s.waitFor(".cm-tooltip-autocomplete", (t) => /pipelines/.test(t));
    await s.type('[data-testid="sql-editor"] .cm-content', CTRL_A + "SELECT id, run_name, status, created_at FROM jobs ORDER BY id");
    await s.exec("document.querySelectorAll('.cm-tooltip-autocomplete').forEach(t => t.remove())");
    // Time to first result, measured in the page: from Run to the grid's summary being in the DOM.
    await s.exec(`window.__queryMs = null;
      const t0 = performance.now();
      const seen = () => /^500 rows/.test(document.querySelector('[data-testid=query-summary]')?.textContent ?? '');
      new MutationObserver((_, o) => { if (seen()) { window.__queryMs = performance.now() - t0; o.disconnect(); } })
        .observe(document.body, { childList: true, subtree: true, characterData: true });
      document.querySelector('[data-testid=query-run]').click();`);
    await s.waitFor('[data-testid="query-summary"]', (t) => /^500 rows · \d+ ms$/.test(t));
    const summary = await s.text(await s.find('[data-testid="query-summary"]'));
    const inPage = await s.exec("return window.__queryMs");
    console.log(`query of 500 rows: Run to the grid in the page ${Math.round(inPage)} ms (core: ${summary})`);
    assert.equal((await s.findAll('[data-testid="query-result"] tbody tr')).length, 50);
    assert.equal(await s.text(await s.find('[data-testid="query-page"]')), "page 1 of 10");
    await shot(s, "11-query-view");
    await runSql("DELETE FROM jobs");
    await s.waitFor('[data-testid="query-error"]', (t) => /refused: DELETE from jobs/.test(t));
  });

  await step("saved queries: save one for dev, load it back", async () => {
    await runSql("SELECT id, run_name, status FROM jobs WHERE status = 'failed' ORDER BY id");
    await s.waitFor('[data-testid="query-summary"]', (t) => /rows/.test(t));
    await s.type('[data-testid="save-name"]', "Failed jobs");
    await s.click('[data-testid="save-query"]');
    await s.waitFor('[data-testid="saved-Failed jobs"]');
    assert.ok(existsSync(join(DATA, "queries", "dev.json")), "kept in the data dir");
    await dismissToasts(s);
    await shot(s, "12-saved-queries");
  });

  let failed = 0;
  await step("export the query's rows through the native save dialog (audit-logged)", async () => {
    const dest = join(EXPORT_DIR, "failed.csv");
    const summary = await s.text(await s.find('[data-testid="query-summary"]'));
    failed = Number(summary.match(/^([\d,]+) rows?/)[1].replace(/,/g, ""));
    await s.click('[data-testid="query-view"] [data-testid="export-open"]');
    await fileDialog("Export rows of dev", [{ key: ["ctrl+a"] }, { type: dest }, { key: ["Return"] }]);
    await toastOk(s, (t) => t.includes(dest));
    const lines = csvLines(dest);
    assert.equal(lines[0], '"id","run_name","status"');
    assert.equal(lines.length, failed + 1);
    const log = readFileSync(join(DATA, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(log.some((e) => e.verb === "export" && e.outcome === "ok" && e.summary.includes(dest)), "one audit line");
    await dismissToasts(s);
  });

  await step("data browser: Export… of the current filter", async () => {
    const dest = join(EXPORT_DIR, "failed-jobs.ndjson");
    await s.click('[data-testid="nav-data"]');
    await s.select('[data-testid="filter-status"]', "failed");
    await s.click('[data-testid="filter-apply"]');
    await s.select('[data-testid="data-browser"] [data-testid="export-format"]', "ndjson");
    await s.click('[data-testid="data-browser"] [data-testid="export-open"]');
    await fileDialog("Export rows of dev", [{ key: ["ctrl+a"] }, { type: dest }, { key: ["Return"] }]);
    await toastOk(s, (t) => t.includes(dest));
    const rows = readFileSync(dest, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.length, failed);
    assert.ok(rows.every((r) => r.status === "failed" && typeof r.params === "object"), "every column, params nested");
    await dismissToasts(s);
  });

  await step("import a CSV of users through the native open dialog and the plan modal", async () => {
    const csv = join(EXPORT_DIR, "new-users.csv");
    writeFileSync(csv, "username,email,hashed_password,role\r\nimported.one,one@example.org,$argon2id$x,analyst\r\n" +
      "imported.two,two@example.org,$argon2id$x,viewer\r\n");
    await s.click('[data-testid="tab-users"]');
    await s.click('[data-testid="import-users"]');
    await fileDialog("Import rows into dev users", [{ key: ["ctrl+l"] }, { key: ["ctrl+a"] }, { type: csv }, { key: ["Return"] }]);
    await s.waitFor('[data-testid="plan-import"]', (t) => t.includes(`2 rows into users from ${csv}`));
    await s.waitFor('[data-testid="plan-backup"]', (t) => /pre-import/.test(t));
    await shot(s, "14-import-plan");
    await s.click('[data-testid="plan-confirm"]');
    await acceptNative("Confirm import of DEV");
    await toastOk(s, (t) => /2 rows imported into users/.test(t));
    await s.click('[data-testid="tab-users"]');
    await s.waitFor('[data-testid="data-browser"] table', (t) => /imported\.one/.test(t) && /imported\.two/.test(t));
    await dismissToasts(s);
  });

  await step("schema view: tables, columns, foreign keys; bookkeeping tables apart", async () => {
    await s.click('[data-testid="nav-schema"]');
    await s.waitFor('[data-testid="schema-table-jobs"]', (t) => /session_id/.test(t));
    await s.find('[data-testid="fk-jobs-users"]');
    await s.find('[data-testid="fk-jobs-pipelines"]');
    await s.waitFor('[data-testid="schema-bookkeeping"]', (t) => /refinery_schema_history/.test(t));
    await s.waitFor('[data-testid="schema-indexes"]', (t) => /jobs_status_created \(status, created_at\)/.test(t));
    await shot(s, "13-schema");
  });

  await step("Settings: open an existing database as env demo in the native open dialog; its card appears", async () => {
    const title = "Open an existing SQLite database as environment demo";
    const demo = join(EXPORT_DIR, "demo.sqlite3");
    writeFileSync(demo, emptyDatabase());
    await dismissToasts(s);
    await s.click('[data-testid="nav-settings"]');
    await s.waitFor('[data-testid="settings-panel"]');
    await s.type('[data-testid="attach-name"]', "demo");
    // The exported dev backup is tagged dev: refused with core's message, nothing written.
    await s.click('[data-testid="attach-open"]');
    await fileDialog(title, [{ key: ["ctrl+l"] }, { key: ["ctrl+a"] }, { type: join(EXPORT_DIR, "dev-export.sqlite3") }, { key: ["Return"] }]);
    await s.waitFor('[data-testid="settings-error"]', (t) => /tagged `dev`, not `demo`/.test(t));
    assert.ok(!existsSync(join(DATA, "pipeline-db.toml")), "no config written by a refusal");
    await dismissToasts(s);
    await s.click('[data-testid="attach-open"]');
    await fileDialog(title, [{ key: ["ctrl+l"] }, { key: ["ctrl+a"] }, { type: demo }, { key: ["Return"] }]);
    await toastOk(s, (t) => /Added environment demo/.test(t));
    await s.waitFor('[data-testid="settings-env-demo"]');
    await shot(s, "09-settings");
    assert.match(readFileSync(join(DATA, "pipeline-db.toml"), "utf8"), /\[envs\.demo\]/);
    await s.click('[data-testid="nav-envs"]');
    await s.waitFor('[data-testid="env-card-demo"]');
    await s.click('[data-testid="act-migrate-demo"]');
    await confirmPlan(s);
    await s.waitFor('[data-testid="health-demo"]', (t) => t === "ok", 30000);
    await planClosed(s);
  });

  await step("Settings: About shows the version, the git commit and SQLite's version", async () => {
    await s.click('[data-testid="nav-settings"]');
    const about = await s.waitFor('[data-testid="about"]');
    assert.match(await s.text(about), /Pipeline DB \d+\.\d+\.\d+ · commit ([0-9a-f]{7,}|unknown) · SQLite 3\.\d+/);
    await s.exec("document.querySelector('[data-testid=about]').scrollIntoView()");
    await sleep(700);
    // The whole screen as a person sees it (X server's pixels, not WebDriver's).
    execFileSync("import", ["-window", "root", join(SHOTS, "10-about.png")]);
  });
} finally {
  await s.end().catch(() => {});
}
console.log(steps.join("\n"));
