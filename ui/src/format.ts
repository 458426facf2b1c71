// Times and counts are written without the browser's Intl (the first use of which loads its
// locale data: 25 to 40 ms of a cold page's drawing): times as MLflow's UI writes them,
// YYYY-MM-DD HH:MM:SS in the browser's time zone, and counts with comma thousands.
const pad = (n: number) => (n < 10 ? "0" : "") + n;

export function formatTime(ms?: number | string): string {
  if (ms === undefined || ms === null || ms === "" || Number(ms) === 0) return "";
  const d = new Date(Number(ms));
  if (isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A count with comma thousands: 12,345. */
export function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : String(n);
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
