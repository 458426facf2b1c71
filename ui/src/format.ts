// One formatter for every time the UI shows, in the browser's locale: made once (each
// toLocaleString with options makes a new one).
let timeFormat: Intl.DateTimeFormat | undefined;

export function formatTime(ms?: number | string): string {
  if (ms === undefined || ms === null || ms === "" || Number(ms) === 0) return "";
  timeFormat ??= new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  return timeFormat.format(new Date(Number(ms)));
}

/** Loads the browser's locale data for numbers and times (the first use of either costs tens
 * of milliseconds): called while the first page's answers are on their way. */
export function warmFormats() {
  formatTime(Date.now());
  (1234.5).toLocaleString();
}

export function formatDuration(start?: number | string, end?: number | string): string {
  if (!start || !end) return "";
  let s = (Number(end) - Number(start)) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  s = Math.round(s % 60);
  return h ? `${h} h ${m} min` : `${m} min ${s} s`;
}

export function formatValue(v: unknown): string {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
  }
  return v === undefined || v === null ? "" : String(v);
}
