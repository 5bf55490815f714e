import type { PageProps } from "../routes";
export function InsightsPage(_: PageProps) { return <h2>Insights</h2>; }
