import { useEffect, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { api, call } from "../api/client";
import { AlertStream, type StreamStatus } from "./AlertStream";
import { AlertStreamContext } from "./AlertStreamContext";
import { refreshAfterAlert } from "./queries";
import { severityColor } from "./presentation";

/** Keeps the alert stream open while signed in; each alert refreshes the lists and the unread badge. */
export function AlertStreamProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<StreamStatus>("connecting");

  useEffect(() => {
    const stream = new AlertStream({
      getTicket: async () => (await call(api.POST("/api/v1/alerts/stream-tickets"))).ticket,
      onStatus: setStatus,
      // What was raised before the stream subscribed is not sent on it: read the lists again.
      onOpen: () => refreshAfterAlert(queryClient),
      onAlert: (alert) => {
        refreshAfterAlert(queryClient);
        notifications.show({
          title: alert.title,
          message: alert.message,
          color: severityColor(alert.severity),
          autoClose: 8000,
        });
      },
    });
    stream.start();
    return () => stream.stop();
  }, [queryClient]);

  return <AlertStreamContext.Provider value={status}>{children}</AlertStreamContext.Provider>;
}
