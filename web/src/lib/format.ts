import dayjs from "dayjs";
import relativeTime from "dayjs/plugin/relativeTime";

dayjs.extend(relativeTime);

/** Minor units in `currency` as the user reads money: 2900 usd → "$29.00". */
export function formatMoney(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
  } catch {
    return `${(minor / 100).toFixed(2)} ${code}`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format("MMM D, YYYY") : "—";
}

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dayjs(iso).format("MMM D, YYYY HH:mm") : "—";
}

export function fromNow(iso: string | null | undefined): string {
  return iso ? dayjs(iso).fromNow() : "never";
}

/** "PAYMENT_FAILED" → "Payment failed". */
export function humanize(code: string): string {
  const words = code.replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Bytes in the largest sensible decimal unit, as plans count them (1 GB = 10^9 bytes): 1500 → "1.5 KB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${String(Number(value.toFixed(value < 10 ? 1 : 0)))} ${units[unit] ?? "B"}`;
}
