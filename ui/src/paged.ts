// A list read a page at a time from a search API (MLflow's page tokens): the rows so far,
// whether there are more, and a loader for the next page.
import { useEffect, useState } from "preact/hooks";
import { message } from "./api";

export type Page<T> = { rows: T[]; next?: string };

/** Reads the first page whenever deps change, and the next one on more(). */
export function usePaged<T>(fetchPage: (token?: string) => Promise<Page<T>>, deps: unknown[]) {
  const [rows, setRows] = useState<T[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const load = async (token?: string) => {
    setLoading(true);
    try {
      const page = await fetchPage(token);
      setRows((old) => (token ? [...old, ...page.rows] : page.rows));
      setNext(page.next || undefined);
      setError("");
    } catch (err) {
      setError(message(err));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, deps);
  return { rows, next, error, setError, loading, more: () => load(next) };
}
