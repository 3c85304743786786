import { Alert, Code, CopyButton, Button, Group, Stack, Text } from "@mantine/core";

/** A secret the API shows only once: say so, and make it easy to copy. */
export function SecretOnce({ label, secret }: { label: string; secret: string }) {
  return (
    <Alert color="yellow" title={label} role="status">
      <Stack gap="xs">
        <Text size="sm">Copy it now: it cannot be shown again.</Text>
        <Group gap="sm" wrap="nowrap">
          <Code data-testid="secret" style={{ wordBreak: "break-all" }}>
            {secret}
          </Code>
          <CopyButton value={secret}>
            {({ copied, copy }) => (
              <Button size="compact-xs" variant="light" onClick={copy}>
                {copied ? "Copied" : "Copy"}
              </Button>
            )}
          </CopyButton>
        </Group>
      </Stack>
    </Alert>
  );
}
