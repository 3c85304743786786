import { describe, expect, it } from "vitest";
import { formatBytes, formatMoney, humanize } from "./format";

describe("formatting", () => {
  it("shows minor units as money in the currency's own decimals", () => {
    expect(formatMoney(2900, "usd")).toBe("$29.00");
    expect(formatMoney(123456, "eur")).toBe("€1,234.56");
    expect(formatMoney(500, "jpy")).toBe("¥500");
  });

  it("humanizes codes", () => {
    expect(humanize("PAYMENT_FAILED")).toBe("Payment failed");
  });

  it("shows bytes in the largest sensible unit", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1500)).toBe("1.5 KB");
    expect(formatBytes(50_000_000_000)).toBe("50 GB");
  });
});
