import type { PageProps } from "../routes";
export function OverviewPage(_: PageProps) { return <h2>Overview</h2>; }
