import type { ReactNode } from "react";
import { Center, Loader, Stack, Text } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import { ProblemAlert } from "./ProblemAlert";

interface Props<T> {
  query: UseQueryResult<T>;
  /** What the data looks like when there is nothing to show. */
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  label: string;
  children: (data: T) => ReactNode;
}

/** Loading, error and empty states for one query, the same way on every page. */
export function QueryState<T>({ query, isEmpty, empty, label, children }: Props<T>) {
  if (query.isPending) {
    return (
      <Center py="xl">
        <Loader aria-label={`Loading ${label}`} />
      </Center>
    );
  }
  if (query.isError) {
    return (
      <ProblemAlert
        error={query.error}
        title={`Could not load ${label}`}
        onRetry={() => void query.refetch()}
      />
    );
  }
  if (isEmpty?.(query.data)) {
    return (
      <Center py="xl">
        <Stack align="center" gap={4}>
          {typeof empty === "string" || !empty ? (
            <Text c="dimmed">{empty ?? `No ${label} yet.`}</Text>
          ) : (
            empty
          )}
        </Stack>
      </Center>
    );
  }
  return <>{children(query.data)}</>;
}
