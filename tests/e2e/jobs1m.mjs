// Measures the jobs page of the data browser on a big dev database (E2E_DATA=<dir with 1M jobs>):
// wall time from clicking "Data" / "Apply" / "Next" until the 50 rows are in the DOM, plus the
// invoke round trip the page itself shows. Prints figures; asserts only that rows arrive.
import { Session, sleep } from "./webdriver.mjs";

const s = await Session.start("http://127.0.0.1:4444", process.env.APP);
const rows = () => s.exec("return document.querySelectorAll('[data-testid=jobs-table] tbody .status').length");
// A DOM click: the pager sits below the fold, the filters under the sticky top bar.
const click = (css) => s.exec("document.querySelector(arguments[0]).click()", [css]);
const firstId = () => s.exec("const td = document.querySelector('[data-testid=jobs-table] tbody td'); return td ? td.textContent : ''");
async function timed(label, action) {
  const before = await firstId();
  const t0 = Date.now();
  await action();
  while ((await firstId()) === before || (await rows()) < 50) await sleep(5);
  const wall = Date.now() - t0;
  const shown = await s.exec("return document.querySelector('[data-testid=page-time]').textContent");
  console.log(`${label}: ${wall} ms to 50 new rows in the DOM (invoke round trip ${shown})`);
}
try {
  await s.waitFor('[data-testid="env-card-dev"]', (t) => /jobs 1,000,000/.test(t), 60000);
  await timed("first page, newest first", () => s.click('[data-testid="nav-data"]'));
  await timed("next page (keyset)", () => click('[data-testid="page-next"]'));
  await s.select('[data-testid="filter-status"]', "failed");
  await timed("status = failed", () => click('[data-testid="filter-apply"]'));
  await s.select('[data-testid="filter-pipeline"]', "3");
  await timed("status = failed + pipeline", () => click('[data-testid="filter-apply"]'));
  for (let i = 0; i < 5; i++) await timed(`page ${i + 2} of that filter`, () => click('[data-testid="page-next"]'));
  for (const days of [30, 90]) {
    const t0 = Date.now();
    if (days === 30) await s.click('[data-testid="nav-charts"]');
    else await click('[data-testid="days-90"]');
    await s.waitFor(`[data-testid="charts"][data-loaded="dev:${days}"]`, () => true, 60000);
    console.log(`charts, last ${days} days: ${Date.now() - t0} ms until the data is in the page`);
  }
} finally {
  await s.end().catch(() => {});
}
