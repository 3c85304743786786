import { useQuery } from "@tanstack/react-query";
import { api, call, callVersioned } from "../api/client";
import type { BillingSettings, TierCode } from "../api/types";
import type { VersionedQuery } from "../lib/editVersion";

export const billingKeys = {
  dashboard: ["billing"] as const,
  settings: ["billing", "settings"] as const,
  tiers: ["tiers"] as const,
  preview: (tier: TierCode) => ["billing", "preview", tier] as const,
  invoices: (status: string | null, page: number) => ["billing", "invoices", status, page] as const,
};

export function useBilling(options: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: billingKeys.dashboard,
    queryFn: () => call(api.GET("/api/v1/billing")),
    refetchInterval: options.refetchInterval,
  });
}

export function useTiers() {
  return useQuery({
    queryKey: billingKeys.tiers,
    queryFn: () => call(api.GET("/api/v1/tiers")),
    staleTime: 5 * 60_000,
    select: (tiers) => [...tiers].sort((a, b) => a.display_order - b.display_order),
  });
}

/**
 * Stripe's exact proration of a switch to `tier`. Not cached for long: the amount shrinks as the period runs,
 * and a quote is honoured for an hour.
 */
export function usePlanPreview(tier: TierCode) {
  return useQuery({
    queryKey: billingKeys.preview(tier),
    queryFn: () => call(api.GET("/api/v1/billing/subscription/preview", { params: { query: { tier } } })),
    staleTime: 0,
    gcTime: 60_000,
    // A dialog left open keeps a quote the server still honours (an hour).
    refetchInterval: 10 * 60_000,
  });
}

/** The settings `PATCH /api/v1/billing/settings` changes, with their `ETag`. */
export const billingSettingsQuery: VersionedQuery<BillingSettings> = {
  queryKey: billingKeys.settings,
  queryFn: () => callVersioned(api.GET("/api/v1/billing/settings")),
};
