import { useState } from "react";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { ifMatch, type Versioned } from "../api/client";

/** A query whose data carries its `ETag`: what an edit form is opened from and reloads. */
export interface VersionedQuery<T> {
  queryKey: QueryKey;
  queryFn: () => Promise<Versioned<T>>;
}

/**
 * The version an edit form writes against: the `ETag` it was opened with, moved on by its own saves and by
 * `reloadLatest`, and never by a background refetch, so a save cannot silently overwrite someone else's
 * change. Its writes send `header` as their `If-Match`.
 */
export function useEditVersion<T>(query: VersionedQuery<T>, opened: Versioned<T>) {
  const queryClient = useQueryClient();
  const [etag, setEtag] = useState(opened.etag);
  return {
    header: ifMatch(etag),
    /** After a successful write: its response's `ETag` is the version edited from now on. */
    saved: (written: { etag: string | null }) => setEtag(written.etag),
    /** Fetches the current version (the page shows it too) and edits from it; resolves to its value. */
    reloadLatest: async (): Promise<T> => {
      const latest = await queryClient.query({ ...query, staleTime: 0 });
      setEtag(latest.etag);
      return latest.value;
    },
  };
}
