import { useState } from "react";
import { Button, Group, MultiSelect, Stack, Text, TextInput } from "@mantine/core";
import { fieldError } from "../api/problem";
import { ProblemAlert } from "../components/ProblemAlert";
import { EVENT_TYPE_OPTIONS, EVENT_TYPES, type SubscribableEventType } from "./presentation";

export interface EndpointValues {
  url: string;
  description: string;
  event_types: SubscribableEventType[];
}

/** The fields shown next to their inputs: ProblemAlert does not repeat them. */
const FIELDS = ["url", "description", "event_types"];

interface Props {
  initial: EndpointValues;
  submitLabel: string;
  pending: boolean;
  /** The problem of the last submission, if any. */
  error: Error | null;
  onSubmit: (values: EndpointValues) => void;
}

/** URL, description and event types of an endpoint, to create it or to edit it. */
export function EndpointForm({ initial, submitLabel, pending, error, onSubmit }: Props) {
  const [values, setValues] = useState(initial);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit({ ...values, url: values.url.trim(), description: values.description.trim() });
      }}
      noValidate
    >
      <Stack gap="sm">
        {error && <ProblemAlert error={error} fieldsShown={FIELDS} />}
        <TextInput
          id="webhook-endpoint-url"
          label="URL"
          description="Where Vigil sends the events: an https address on the public internet."
          placeholder="https://example.com/vigil/webhooks"
          type="url"
          required
          value={values.url}
          onChange={(event) => setValues({ ...values, url: event.currentTarget.value })}
          error={fieldError(error, "url")}
        />
        <TextInput
          id="webhook-endpoint-description"
          label="Description"
          description="What the endpoint is for, e.g. Payroll sync."
          value={values.description}
          onChange={(event) => setValues({ ...values, description: event.currentTarget.value })}
          error={fieldError(error, "description")}
        />
        <MultiSelect<SubscribableEventType>
          id="webhook-endpoint-event-types"
          label="Event types"
          description="Leave empty to receive every type, including types added later."
          placeholder={values.event_types.length === 0 ? "All event types" : undefined}
          data={EVENT_TYPE_OPTIONS}
          value={values.event_types}
          onChange={(types) => setValues({ ...values, event_types: types })}
          renderOption={({ option }) => (
            <Stack gap={0}>
              <Text size="sm" ff="monospace">
                {option.label}
              </Text>
              <Text size="xs" c="dimmed">
                {EVENT_TYPES[option.value]}
              </Text>
            </Stack>
          )}
          searchable
          clearable
          hidePickedOptions
          comboboxProps={{ withinPortal: true }}
          error={fieldError(error, "event_types")}
        />
        <Group justify="flex-end">
          <Button type="submit" loading={pending}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
