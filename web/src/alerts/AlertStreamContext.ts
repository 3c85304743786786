import { createContext, useContext } from "react";
import type { StreamStatus } from "./AlertStream";

export const AlertStreamContext = createContext<StreamStatus>("connecting");

export function useAlertStreamStatus(): StreamStatus {
  return useContext(AlertStreamContext);
}
