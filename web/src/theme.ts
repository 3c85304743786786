import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "blue",
  // The system font stack: no web font to download (the CSP allows fonts only from our origin).
  fontFamily:
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', sans-serif",
  defaultRadius: "md",
});
