import { Group, Pagination, Text } from "@mantine/core";

interface Props {
  page: number;
  perPage: number;
  total: number;
  onChange: (page: number) => void;
  noun: string;
}

/** "21–30 of 42 invoices" with page buttons; nothing when everything fits on one page. */
export function ListPagination({ page, perPage, total, onChange, noun }: Props) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const first = total === 0 ? 0 : (page - 1) * perPage + 1;
  const last = Math.min(page * perPage, total);
  return (
    <Group justify="space-between" mt="md" wrap="wrap">
      <Text size="sm" c="dimmed">
        {first}–{last} of {total} {noun}
      </Text>
      {pages > 1 && (
        <Pagination
          total={pages}
          value={page}
          onChange={onChange}
          size="sm"
          getControlProps={(control) => ({
            "aria-label": `${control.charAt(0).toUpperCase()}${control.slice(1)} page`,
          })}
          getItemProps={(item) => ({ "aria-label": `Page ${item}` })}
        />
      )}
    </Group>
  );
}
