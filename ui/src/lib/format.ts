// Small display helpers.
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "3 min ago" from an RFC 3339 UTC time. */
export function age(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

export function eta(ms: number | null): string {
  if (ms === null) return "";
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s} s left` : `${Math.floor(s / 60)} min ${s % 60} s left`;
}

/** "copying: 312 MiB / 624 MiB · 2 s left" (sizes for byte progress, counts for rows); a total
 * of 0 is not known in advance (a query being exported): "exporting: 120,000 rows". */
export function progressText(p: {
  stage: string;
  unit?: string;
  done: number;
  total: number;
  eta_ms: number | null;
}): string {
  const amount = p.unit === "bytes" ? bytes : count;
  const left = eta(p.eta_ms);
  if (p.total === 0 && p.done > 0) return `${p.stage}: ${amount(p.done)}${p.unit === "bytes" ? "" : " rows"}`;
  return `${p.stage}: ${amount(p.done)} / ${amount(p.total)}${left ? ` · ${left}` : ""}`;
}
