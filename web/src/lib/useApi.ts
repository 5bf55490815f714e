// Load data for a view: re-runs when its key changes, ignores answers that arrive
// after a newer request started, and exposes reload() for live updates.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Loaded<T> =
  | { state: "loading"; data: T | null; reload: () => void }
  | { state: "ready"; data: T; reload: () => void }
  | { state: "error"; error: unknown; data: T | null; reload: () => void };

export function useApi<T>(load: () => Promise<T>, key: unknown[]): Loaded<T> {
  const [result, setResult] = useState<
    { state: "loading"; data: T | null } | { state: "ready"; data: T } | { state: "error"; error: unknown; data: T | null }
  >({ state: "loading", data: null });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback((quiet: boolean) => {
    const mine = ++generation.current;
    if (!quiet) setResult((previous) => ({ state: "loading", data: previous.data }));
    loadRef.current().then(
      (data) => {
        if (mine === generation.current) setResult({ state: "ready", data });
      },
      (error: unknown) => {
        if (mine === generation.current)
          setResult((previous) => ({ state: "error", error, data: previous.data }));
      },
    );
  }, []);

  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => run(false), key);
  const reload = useCallback(() => run(true), [run]);
  return { ...result, reload } as Loaded<T>;
}
