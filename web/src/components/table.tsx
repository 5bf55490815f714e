// Sortable column headers and a pager for the dashboard's lists, their state in the
// URL (`sort=-cost`, `page=2`), so sorted and paged views are shareable.
import { Link, type Location, withQuery } from "../lib/router";

export interface SortState<K extends string> {
  key: K;
  descending: boolean;
}

/** An API sort token ("-cost", "tokens") as a sort, or `fallback` when it names no allowed key. */
export function parseSort<K extends string>(raw: string | null, keys: readonly K[], fallback: SortState<K>): SortState<K> {
  if (!raw) return fallback;
  const descending = raw.startsWith("-");
  const key = descending ? raw.slice(1) : raw;
  return (keys as readonly string[]).includes(key) ? { key: key as K, descending } : fallback;
}

export function sortToken<K extends string>(sort: SortState<K>): string {
  return `${sort.descending ? "-" : ""}${sort.key}`;
}

/**
 * The sort a header's link asks for: the sorted column flips its direction; another
 * column starts in its natural one (largest or latest first, names A to Z).
 */
export function nextSort<K extends string>(current: SortState<K>, key: K, descendingFirst: boolean): SortState<K> {
  if (current.key === key) return { key, descending: !current.descending };
  return { key, descending: descendingFirst };
}

/** A column header that sorts the table by linking to the sorted URL (paging restarts). */
export function SortHeader<K extends string>({
  label,
  sortKey,
  sort,
  defaultSort,
  location,
  descendingFirst = true,
  numeric = false,
}: {
  label: string;
  sortKey: K;
  sort: SortState<K>;
  defaultSort: SortState<K>;
  location: Location;
  descendingFirst?: boolean;
  numeric?: boolean;
}) {
  const active = sort.key === sortKey;
  const target = nextSort(sort, sortKey, descendingFirst);
  const token = sortToken(target);
  const href = withQuery(location, {
    sort: token === sortToken(defaultSort) ? null : token,
    cursor: null,
    page: null,
  });
  return (
    <th
      scope="col"
      class={numeric ? "num" : undefined}
      aria-sort={active ? (sort.descending ? "descending" : "ascending") : undefined}
    >
      <Link href={href} class="sort-link">
        {label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (sort.descending ? "▼" : "▲") : "↕"}
        </span>
      </Link>
    </th>
  );
}

/** Previous / next links and where the page stands, announced when it changes. */
export function Pager({
  label,
  previous,
  next,
  status,
}: {
  label: string;
  previous: string | null;
  next: string | null;
  status: string;
}) {
  return (
    <nav class="pager" aria-label={label}>
      {previous ? (
        <Link href={previous} rel="prev" class="button ghost">
          ← Previous
        </Link>
      ) : (
        // Holds the place of a link that does not apply here, for sighted users only.
        <span class="button ghost pager-off" aria-hidden="true">
          ← Previous
        </span>
      )}
      <span class="pager-status" aria-live="polite">
        {status}
      </span>
      {next ? (
        <Link href={next} rel="next" class="button ghost">
          Next →
        </Link>
      ) : (
        <span class="button ghost pager-off" aria-hidden="true">
          Next →
        </span>
      )}
    </nav>
  );
}

/** A positive integer query parameter, or `fallback`. */
export function positiveInt(raw: string | null, fallback: number): number {
  const value = raw === null ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 1 ? value : fallback;
}
