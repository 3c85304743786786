import { Anchor, Group, Table, Text } from "@mantine/core";
import type { Invoice } from "../api/types";
import { formatDate, formatMoney } from "../lib/format";
import { InvoiceStatusBadge } from "./presentation";

export function InvoiceTable({ invoices }: { invoices: Invoice[] }) {
  return (
    <Table.ScrollContainer minWidth={640}>
      <Table striped highlightOnHover verticalSpacing="sm">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Invoice</Table.Th>
            <Table.Th>Issued</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th ta="right">Amount</Table.Th>
            <Table.Th ta="right">Paid</Table.Th>
            <Table.Th>Documents</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {invoices.map((invoice) => (
            <Table.Tr key={invoice.id}>
              <Table.Td>
                <Text size="sm" ff="monospace">
                  {invoice.number ?? invoice.stripe_invoice_id}
                </Text>
              </Table.Td>
              <Table.Td>{formatDate(invoice.issued_at)}</Table.Td>
              <Table.Td>
                <InvoiceStatusBadge status={invoice.status} />
              </Table.Td>
              <Table.Td ta="right">{formatMoney(invoice.amount_due, invoice.currency)}</Table.Td>
              <Table.Td ta="right">{formatMoney(invoice.amount_paid, invoice.currency)}</Table.Td>
              <Table.Td>
                <Group gap="sm">
                  {invoice.hosted_invoice_url && (
                    <Anchor href={invoice.hosted_invoice_url} target="_blank" rel="noreferrer" size="sm">
                      {invoice.status === "OPEN" ? "Pay" : "View"}
                    </Anchor>
                  )}
                  {invoice.invoice_pdf && (
                    <Anchor href={invoice.invoice_pdf} target="_blank" rel="noreferrer" size="sm">
                      PDF
                    </Anchor>
                  )}
                  {!invoice.hosted_invoice_url && !invoice.invoice_pdf && (
                    <Text size="sm" c="dimmed">
                      —
                    </Text>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
