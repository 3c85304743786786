export const webhookKeys = {
  all: ["webhook-endpoints"] as const,
  list: ["webhook-endpoints", "list"] as const,
  endpoint: (id: string) => ["webhook-endpoints", "detail", id] as const,
  attempts: (id: string) => ["webhook-endpoints", "attempts", id] as const,
};
