import { useState } from "react";
import { Card, SegmentedControl, SimpleGrid, Stack, Text } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import type { InvoiceStatus } from "../api/types";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { formatMoney } from "../lib/format";
import { InvoiceTable } from "./InvoiceTable";
import { billingKeys } from "./queries";

const PER_PAGE = 10;
const FILTERS: { value: InvoiceStatus | "ALL"; label: string }[] = [
  { value: "ALL", label: "All" },
  { value: "PAID", label: "Paid" },
  { value: "OPEN", label: "Open" },
  { value: "VOID", label: "Void" },
  { value: "UNCOLLECTIBLE", label: "Uncollectible" },
];

function SummaryCard({ label, value }: { label: string; value: string }) {
  return (
    <Card withBorder radius="md" padding="md">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fz="xl" fw={700}>
        {value}
      </Text>
    </Card>
  );
}

export function PaymentHistoryPage() {
  const [status, setStatus] = useState<InvoiceStatus | "ALL">("ALL");
  const [page, setPage] = useState(1);
  const filter = status === "ALL" ? null : status;
  const invoices = useQuery({
    queryKey: billingKeys.invoices(filter, page),
    queryFn: () =>
      call(
        api.GET("/api/v1/billing/invoices", {
          params: { query: { page, per_page: PER_PAGE, ...(filter ? { status: filter } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <PageHeader title="Payment history" description="Every invoice Stripe issued to your company." />
      <Stack gap="lg">
        <SegmentedControl
          aria-label="Filter by status"
          data={FILTERS}
          value={status}
          onChange={(value) => {
            setStatus(value);
            setPage(1);
          }}
          style={{ alignSelf: "flex-start" }}
        />
        <QueryState
          query={invoices}
          label="invoices"
          isEmpty={(data) => data.total === 0}
          empty={filter ? `No ${filter.toLowerCase()} invoices.` : "No invoices yet."}
        >
          {(data) => (
            <>
              <SimpleGrid cols={{ base: 1, sm: 3 }}>
                <SummaryCard label="Total" value={formatMoney(data.summary.total, data.summary.currency)} />
                <SummaryCard label="Paid" value={formatMoney(data.summary.paid, data.summary.currency)} />
                <SummaryCard
                  label="Outstanding"
                  value={formatMoney(data.summary.outstanding, data.summary.currency)}
                />
              </SimpleGrid>
              <Card withBorder radius="md" padding="sm">
                <InvoiceTable invoices={data.data} />
                <ListPagination
                  page={page}
                  perPage={PER_PAGE}
                  total={data.total ?? 0}
                  onChange={setPage}
                  noun="invoices"
                />
              </Card>
            </>
          )}
        </QueryState>
      </Stack>
    </>
  );
}
