import { Badge, Group, Text } from "@mantine/core";
import { IconCreditCard } from "@tabler/icons-react";
import type { CardOnFile } from "../api/types";

const BRANDS: Record<string, string> = {
  visa: "Visa",
  mastercard: "Mastercard",
  amex: "American Express",
  discover: "Discover",
  diners: "Diners Club",
  jcb: "JCB",
  unionpay: "UnionPay",
};

/** Whether the card has expired, expires this month or next (when a renewal may fail), or is fine. */
export function cardStanding(card: CardOnFile, today: Date = new Date()): "expired" | "expiring" | "valid" {
  // A card is good through the last day of its expiry month.
  const months = (card.exp_year - today.getUTCFullYear()) * 12 + (card.exp_month - (today.getUTCMonth() + 1));
  if (months < 0) return "expired";
  if (months <= 1) return "expiring";
  return "valid";
}

/** The card Stripe charges, as "Visa •••• 4242, expires 12/2030", or what to do when there is none. */
export function CardOnFileLine({ card }: { card: CardOnFile | null | undefined }) {
  if (!card) {
    return (
      <Text size="sm" c="dimmed" data-testid="card-on-file">
        No card on file.
      </Text>
    );
  }
  const standing = cardStanding(card);
  const brand = BRANDS[card.brand] ?? card.brand.charAt(0).toUpperCase() + card.brand.slice(1);
  const expiry = `${String(card.exp_month).padStart(2, "0")}/${card.exp_year}`;
  return (
    <Group gap="xs" data-testid="card-on-file">
      <IconCreditCard size={16} aria-hidden />
      <Text size="sm">
        {brand} •••• {card.last4}, expires {expiry}
      </Text>
      {standing === "expired" && (
        <Badge color="red" variant="light">
          Expired
        </Badge>
      )}
      {standing === "expiring" && (
        <Badge color="yellow" variant="light">
          Expires soon
        </Badge>
      )}
    </Group>
  );
}
